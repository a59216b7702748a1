"""How every part of the platform connects to Kafka: one settings model, parameters for each client.

The cluster address is the standard ``KAFKA_BOOTSTRAP_SERVERS`` for services, tools and tests
alike; TLS and SASL come from ``RITUALS_KAFKA_*`` variables, secrets as ``SecretStr``.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownError, UnsupportedVersionError
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"


class KafkaSettings(BaseSettings):
    """Connection to the Kafka cluster (or the embedded broker)."""

    model_config = SettingsConfigDict(
        env_prefix="RITUALS_KAFKA_",
        extra="ignore",
        validate_by_name=True,
        hide_input_in_errors=True,  # a refused value may be a password
    )

    bootstrap_servers: str = Field(
        default=DEFAULT_BOOTSTRAP_SERVERS,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "RITUALS_KAFKA_BOOTSTRAP_SERVERS"),
        description="Comma-separated host:port list of the cluster (KAFKA_BOOTSTRAP_SERVERS).",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How to talk to the brokers."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism, with a SASL_* security protocol."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password (secret).")
    ssl_cafile: str | None = Field(default=None, description="CA bundle to verify the brokers.")
    ssl_certfile: str | None = Field(default=None, description="Client certificate (mutual TLS).")
    ssl_keyfile: str | None = Field(default=None, description="Client key (mutual TLS).")
    idempotence: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Idempotent producers (no duplicate or reordered writes on a retry): on, "
        "off, or auto (on where the broker grants a producer id; the embedded one does not).",
    )
    transactions: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Each batch's outputs, dead letters and consumed offsets in one Kafka "
        "transaction, read with read_committed: on, off, or auto (on where producers are "
        "idempotent; the embedded broker grants neither).",
    )

    def transactional(self, idempotent: bool) -> bool:
        """Whether services write in transactions, given whether the cluster is idempotent."""
        if self.transactions == "auto":
            return idempotent
        return self.transactions == "on"

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.uses_tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def faststream_security(self) -> BaseSecurity | None:
        """The ``security`` argument of a FastStream ``KafkaBroker``."""
        context = self.ssl_context()
        if not self.uses_sasl:
            return BaseSecurity(ssl_context=context) if context else None
        kinds = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return kinds[self.sasl_mechanism](
            username=self.sasl_username or "",
            password=self.sasl_password.get_secret_value() if self.sasl_password else "",
            ssl_context=context,
            use_ssl=self.uses_tls,
        )

    @property
    def addresses(self) -> list[str]:
        """The bootstrap servers as a list: aiokafka reads a string as one address, so a
        cluster's "a:9092,b:9092" must be split before it reaches a client."""
        return [address.strip() for address in self.bootstrap_servers.split(",") if address.strip()]

    def aiokafka_params(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka producers and consumers."""
        params: dict[str, Any] = {
            "bootstrap_servers": self.addresses,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            params["ssl_context"] = self.ssl_context()
        if self.uses_sasl:
            params |= self._sasl_params()
        return params

    def kafka_python_params(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients (admin, replay tools)."""
        params: dict[str, Any] = {
            "bootstrap_servers": self.addresses,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            params |= {
                "ssl_cafile": self.ssl_cafile,
                "ssl_certfile": self.ssl_certfile,
                "ssl_keyfile": self.ssl_keyfile,
            }
        if self.uses_sasl:
            params |= self._sasl_params()
        return params

    def kafka_python_client_params(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python producers and consumers: they never create a
        topic (a topic created by a client gets the broker's defaults, 7 days' retention on
        Apache Kafka)."""
        return self.kafka_python_params() | {"allow_auto_create_topics": False}

    async def idempotent_producers(self) -> bool:
        """Whether producers of this cluster are idempotent, asking the broker when ``auto``."""
        if self.idempotence != "auto":
            return self.idempotence == "on"
        probe = AIOKafkaProducer(enable_idempotence=True, **self.aiokafka_params())
        sender = logging.getLogger("aiokafka.producer.sender")
        level = sender.level
        sender.setLevel(logging.CRITICAL)  # a refusal is an answer here, not an error
        try:
            await probe.start()  # asks for a producer id (InitProducerId)
        except (UnknownError, UnsupportedVersionError):
            return False
        finally:
            sender.setLevel(level)
            await probe.stop()
        return True

    def _sasl_params(self) -> dict[str, Any]:
        return {
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_plain_username": self.sasl_username,
            "sasl_plain_password": (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            ),
        }
