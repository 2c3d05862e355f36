"""The ``email:ADDRESS`` target: a plain-text mail through the ``[smtp]`` server.

A refused recipient, or a 5xx answer of the server, cannot succeed later; a server that cannot
be reached, or answers 4xx, is tried again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from scheduler.monitor.notify.common import DeliveryError, one_line
from scheduler.monitor.notify.payloads import Payload
from scheduler.monitor.notify.settings import SmtpConfig


class MailChannel:
    def __init__(self, smtp: SmtpConfig | None) -> None:
        self.smtp = smtp

    def send(self, address: str, payload: Payload) -> None:
        smtp = self.smtp
        if smtp is None:
            raise DeliveryError("no [smtp] server configured", permanent=True)
        message = self.message(smtp, address, payload)
        try:
            self._submit(smtp, message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = "; ".join(f"{code} {_decode(text)}" for code, text in error.recipients.values())
            raise DeliveryError(one_line(f"{address} refused: {codes}"), permanent=True) from None
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code} {_decode(error.smtp_error)}"
            raise DeliveryError(one_line(text), permanent=500 <= error.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                one_line(f"cannot send mail through {smtp.host}:{smtp.port}: {error}")
            ) from None

    @staticmethod
    def message(smtp: SmtpConfig, address: str, payload: Payload) -> EmailMessage:
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = address
        message["Subject"] = payload.subject()
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="kcna-monitor")
        message.set_content(payload.body())
        return message

    @staticmethod
    def _submit(smtp: SmtpConfig, message: EmailMessage) -> None:
        timeout = smtp.timeout.total_seconds()
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
        with client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                password = smtp.password()
                if password is None:
                    raise DeliveryError(f"the environment variable {smtp.password_env} is not set")
                client.login(smtp.username, password)
            client.send_message(message)


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
