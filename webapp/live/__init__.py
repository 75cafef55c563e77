"""The live channel: how every state change reaches every open page.

Owns the event payloads, room and event names and THE one emit helper, the event log
and its replay (``events``), the batching client manager (``fanout``), the missed-tail
beacon (``head_beacon``), the read models a subscribe ack carries (``snapshot``,
``panels``, ``stats``) and the bounds on what one subscribe may cost
(``subscribe_limits``). The Socket.IO handlers themselves live in ``webapp.web.sockets``,
beside the HTTP views, since they draw on every room.

May import: ``webapp.core``.
"""
