"""Turning a DBOSConfig into Settings: defaults, URL defaulting rules, and validation."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbos._core.serialization import DBOSPortableJSONSerializer, DefaultSerializer
from dbos._core.settings import (
    InvalidSettings,
    default_sqlite_url,
    process_config,
    resolve_urls,
    validate_app_name,
)

NAME_ALPHABET = string.ascii_lowercase + string.digits + "-_"
valid_names = st.text(alphabet=NAME_ALPHABET, min_size=3, max_size=30)


# ---------------------------------------------------------------- defaults


def test_a_name_alone_gets_every_default() -> None:
    settings = process_config({"name": "some-app"})
    assert settings.app_name == "some-app"
    assert settings.system_database_url == "sqlite:///some_app.sqlite"
    assert settings.application_database_url is None
    assert settings.is_sqlite
    assert settings.log_level == "INFO"
    assert settings.run_admin_server is False
    assert settings.admin_port == 3001
    assert settings.schema == "dbos"
    assert settings.sys_db_pool_size == 20
    assert settings.sys_db_polling_concurrency == 10
    assert isinstance(settings.serializer, DefaultSerializer)
    assert settings.application_version is None
    assert settings.executor_id is None
    assert settings.enable_patching is False
    assert settings.use_listen_notify is True
    assert settings.run_migrations is True
    assert settings.max_executor_threads is None
    assert settings.notification_listener_polling_interval_sec == 1.0
    assert settings.notification_coalesce_sec == 0.01
    assert settings.scheduler_polling_interval_sec == 30.0
    assert settings.kafka_queue_polling_interval_sec == 1.0


def test_none_values_mean_the_default() -> None:
    settings = process_config(
        {"name": "app", "log_level": None, "sys_db_pool_size": None, "run_migrations": None}
    )
    assert (settings.log_level, settings.sys_db_pool_size, settings.run_migrations) == (
        "INFO",
        20,
        True,
    )


def test_configured_values_are_kept() -> None:
    serializer = DBOSPortableJSONSerializer()
    settings = process_config(
        {
            "name": "app",
            "system_database_url": "postgresql://u@h:5432/sys",
            "sys_db_pool_size": 7,
            "log_level": "debug",
            "application_version": "v9",
            "executor_id": "worker-1",
            "dbos_system_schema": "custom_schema",
            "serializer": serializer,
            "run_migrations": False,
            "max_executor_threads": 8,
            "notification_listener_polling_interval_sec": 0.001,
        }
    )
    assert not settings.is_sqlite
    assert settings.sys_db_pool_size == 7
    assert settings.sys_db_polling_concurrency == 3
    assert settings.log_level == "DEBUG"
    assert (settings.application_version, settings.executor_id) == ("v9", "worker-1")
    assert settings.schema == "custom_schema"
    assert settings.serializer is serializer
    assert settings.run_migrations is False
    assert settings.max_executor_threads == 8
    assert settings.notification_listener_polling_interval_sec == 0.001


@pytest.mark.parametrize(("pool", "polling"), [(1, 1), (2, 1), (3, 1), (20, 10), (21, 10)])
def test_polling_concurrency_defaults_to_half_the_pool_but_at_least_one(
    pool: int, polling: int
) -> None:
    assert process_config({"name": "app", "sys_db_pool_size": pool}).sys_db_polling_concurrency == (
        polling
    )


def test_engine_kwargs_are_kept_for_the_application_database() -> None:
    settings = process_config({"name": "app", "db_engine_kwargs": {"pool_size": 3}})
    assert settings.db_engine_kwargs == {"pool_size": 3}
    assert process_config({"name": "app"}).db_engine_kwargs is None


def test_keys_of_features_not_built_yet_are_accepted() -> None:
    settings = process_config({"name": "app", "otlp_attributes": {"k": "v"}, "enable_otlp": False})
    assert settings.unknown_keys == ()


# ---------------------------------------------------------------- database URLs


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("test-app", "sqlite:///test_app.sqlite"),
        ("my_app", "sqlite:///my_app.sqlite"),
        ("1st-app", "sqlite:///_1st_app.sqlite"),
        ("My App", "sqlite:///my_app.sqlite"),
    ],
)
def test_without_urls_the_system_database_is_a_sqlite_file_named_for_the_app(
    name: str, url: str
) -> None:
    assert default_sqlite_url(name) == url


def test_only_a_postgres_app_url_puts_the_system_database_beside_it() -> None:
    sys_url, app_url = resolve_urls(
        {"name": "app", "application_database_url": "postgresql://u:p@h:5433/shop?sslmode=require"}
    )
    assert sys_url == "postgresql://u:p@h:5433/shop_dbos_sys?sslmode=require"
    assert app_url == "postgresql://u:p@h:5433/shop?sslmode=require"


def test_only_a_sqlite_app_url_shares_the_file() -> None:
    assert resolve_urls({"name": "app", "application_database_url": "sqlite:///app.db"}) == (
        "sqlite:///app.db",
        "sqlite:///app.db",
    )


def test_the_deprecated_database_url_wins_over_application_database_url() -> None:
    _, app_url = resolve_urls(
        {
            "name": "app",
            "database_url": "postgresql://h/legacy",
            "application_database_url": "postgresql://h/modern",
        }
    )
    assert app_url == "postgresql://h/legacy"


def test_only_a_system_url_means_no_application_database() -> None:
    assert resolve_urls({"name": "app", "system_database_url": "postgresql://h/sys"}) == (
        "postgresql://h/sys",
        None,
    )


def test_an_explicit_system_url_is_used_as_given_beside_an_app_url() -> None:
    assert resolve_urls(
        {
            "name": "app",
            "system_database_url": "sqlite:///sys.db",
            "application_database_url": "postgresql://h/app",
        }
    ) == ("sqlite:///sys.db", "postgresql://h/app")


def test_only_a_custom_engine_gets_a_placeholder_postgres_url() -> None:
    sys_url, app_url = resolve_urls({"name": "app", "system_database_engine": object()})
    assert sys_url == "postgresql://custom:system@database/engine"
    assert app_url is None


@pytest.mark.parametrize(
    "url", ["postgres://h/db", "postgresql+psycopg://u@h:5432/db", "sqlite:////abs/path.db"]
)
def test_url_spellings_that_are_accepted(url: str) -> None:
    assert process_config({"name": "app", "system_database_url": url}).system_database_url == url


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("system_database_url", "postgresql://u@h:5432"),
        ("system_database_url", "postgresql://u@h:5432/"),
        ("application_database_url", "postgresql://u@h:5432"),
        ("system_database_url", "mysql://u@h/db"),
        ("system_database_url", "not a url"),
        ("system_database_url", ""),
        ("system_database_url", 42),
    ],
)
def test_urls_that_are_refused(key: str, url: Any) -> None:
    with pytest.raises(InvalidSettings):
        process_config({"name": "app", key: url})


def test_a_postgres_url_without_a_database_names_the_problem() -> None:
    with pytest.raises(InvalidSettings, match="Database name must be specified"):
        process_config({"name": "app", "system_database_url": "postgresql://u@h:5432"})


# ---------------------------------------------------------------- names


@given(valid_names)
def test_names_of_3_to_30_lowercase_letters_digits_dashes_underscores_are_valid(
    name: str,
) -> None:
    assert validate_app_name(name) == name


@given(st.text(alphabet=NAME_ALPHABET, max_size=2) | st.text(alphabet=NAME_ALPHABET, min_size=31))
def test_names_of_the_wrong_length_are_refused(name: str) -> None:
    with pytest.raises(InvalidSettings):
        validate_app_name(name)


# A trailing newline has its own test below.
@given(valid_names, st.characters().filter(lambda c: c not in NAME_ALPHABET + "\n"), st.data())
def test_names_with_any_other_character_are_refused(
    name: str, bad: str, data: st.DataObject
) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(name) - 1))
    candidate = name[:position] + bad + name[position + 1 :]
    with pytest.raises(InvalidSettings):
        validate_app_name(candidate)


@pytest.mark.parametrize("name", [None, 123, b"app"])
def test_names_that_are_not_strings_are_refused(name: Any) -> None:
    with pytest.raises(InvalidSettings):
        process_config({"name": name})


@pytest.mark.parametrize("name", ["app\n", "my-app\n"])
def test_a_name_with_a_trailing_newline_is_refused(name: str) -> None:
    with pytest.raises(InvalidSettings):
        validate_app_name(name)


def test_a_missing_name_is_refused() -> None:
    with pytest.raises(InvalidSettings):
        process_config({"system_database_url": "sqlite:///x.db"})


# ---------------------------------------------------------------- other validation


INTERVAL_KEYS = [
    "notification_listener_polling_interval_sec",
    "notification_coalesce_sec",
    "kafka_queue_polling_interval_sec",
    "scheduler_polling_interval_sec",
]


@pytest.mark.parametrize("key", INTERVAL_KEYS)
@pytest.mark.parametrize("value", [0, 0.0009, -1, float("nan"), float("inf"), True, "1.0"])
def test_intervals_must_be_finite_numbers_of_at_least_a_millisecond(key: str, value: Any) -> None:
    with pytest.raises(InvalidSettings):
        process_config({"name": "app", key: value})


@pytest.mark.parametrize("key", INTERVAL_KEYS)
@given(st.floats(min_value=0.001, max_value=1e9))
def test_intervals_of_a_millisecond_or_more_are_accepted(key: str, value: float) -> None:
    assert getattr(process_config({"name": "app", key: value}), key) == value


def test_unknown_keys_are_reported_not_refused() -> None:
    # A config written for a newer release must still start; the lifecycle logs the names.
    settings = process_config({"name": "app", "sytem_database_url": "sqlite:///x.db"})
    assert settings.unknown_keys == ("sytem_database_url",)


def test_a_custom_system_database_engine_is_refused_clearly() -> None:
    with pytest.raises(InvalidSettings, match="system_database_url instead"):
        process_config({"name": "app", "system_database_engine": object()})


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    with pytest.raises(InvalidSettings, match="in-memory"):
        process_config({"name": "app", "system_database_url": url})


@pytest.mark.parametrize("config", [None, "name=app", ["name"]])
def test_a_config_that_is_not_a_mapping_is_refused(config: Any) -> None:
    with pytest.raises(InvalidSettings):
        process_config(config)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sys_db_pool_size", 0),
        ("sys_db_pool_size", -3),
        ("sys_db_pool_size", True),
        ("sys_db_pool_size", "20"),
        ("max_executor_threads", 0),
        ("admin_port", 0),
        ("run_migrations", "yes"),
        ("use_listen_notify", 1),
        ("enable_patching", "true"),
        ("run_admin_server", 0),
        ("serializer", "pickle"),
        ("executor_id", ""),
        ("executor_id", "   "),
        ("executor_id", 5),
        ("application_version", 3),
        ("dbos_system_schema", "drop table; --"),
        ("dbos_system_schema", "1starts_with_digit"),
        ("sqlite_synchronous", "OFF"),
        ("log_level", 10),
        ("db_engine_kwargs", "pool_size=5"),
    ],
)
def test_invalid_values_are_refused(key: str, value: Any) -> None:
    with pytest.raises(InvalidSettings):
        process_config({"name": "app", key: value})


def test_sqlite_synchronous_is_case_insensitive() -> None:
    assert process_config({"name": "app", "sqlite_synchronous": "normal"}).sqlite_synchronous == (
        "NORMAL"
    )
