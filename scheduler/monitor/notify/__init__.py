"""Notification channels and the delivery of the outbox.

Targets, as written in the configuration (:mod:`.settings`):

- ``log``: one line in the daemon's log (:mod:`.log`);
- ``webhook:URL``: a JSON POST to an http(s) URL (2xx is delivered). A 307 or 308 answer
  is followed with the same method, body and headers, to http(s) URLs, for at most
  :data:`.webhook.MAX_REDIRECTS` hops; any other redirect (301, 302, 303, ...), a redirect
  loop or too many hops is a failure that is tried again later, like a 5xx (:mod:`.webhook`);
- ``email:ADDRESS``: a plain-text mail through the ``[smtp]`` server (:mod:`.mail`);
- any Apprise URL (``tgram://…``, ``slack://…``, ``mailto://…``, ``ntfys://…``): the subject
  and the plain-text body sent by Apprise; ``${NAME}`` in it is the environment variable
  NAME, and its secrets are masked wherever it is shown (:mod:`.apprise_channel`).

What a notification says is a typed payload per kind (:mod:`.payloads`: a watch match, an
article gone, a health alarm), stored as JSON in the outbox row.

Every notification is a row of the outbox (``notifications``) first.
:func:`.delivery.deliver_due` sends the rows that are due; one that fails is tried again after
30 s, 1 min, 2 min, ... (at most ``retry_max`` apart) until ``give_up_after`` has passed since
it was queued, then marked ``given_up``. A webhook answering 4xx (but 408, 425 and 429) or a
mail server refusing the recipient gives up at once: trying again cannot help (a 3xx never
gives up at once); an Apprise target that fails is always tried again (Apprise does not say
whether trying again can help), and a send not done within the ``[notify] timeout`` has
failed. A row being delivered is leased, so a daemon that dies while sending retries it after
the lease: delivery is at least once, never lost to a restart.
"""
