"""AstDB: Asterisk's own key-value database, and the AMI actions that reach it.

Keys are stored as Asterisk stores them, ``/<family>/<key>``, and survive a
``restart()`` as AstDB survives one (it is a file). The dialplan's
``cc-record`` context writes to it (``Set(DB(cc/...)=...)``): Dial's ``U()``
gosub on an agent's channel when it answers, and the hangup handler of every
caller's channel. Replies follow ``main/db.c`` of Asterisk 22: ``DBGet`` and
``DBGetTree`` answer with a list (``Result will follow``), ``DBPut``,
``DBDel`` and ``DBDelTree`` with an ack, and each has its own error texts.
"""

from __future__ import annotations

from cti.wire import AmiMessage

from .channels import Headers
from .core import SimCore
from .session import ActionHandler, AmiSession, resp


def _item(name: str, pairs: Headers, aid: str | None) -> Headers:
    # db.c prints the ActionID after the fields of DBGetResponse/DBGetTreeResponse
    return [("Event", name), *pairs, *([("ActionID", aid)] if aid is not None else [])]


def _complete(name: str, aid: str | None, count: int) -> Headers:
    head: Headers = [("Event", name), *([("ActionID", aid)] if aid is not None else [])]
    return [*head, ("EventList", "Complete"), ("ListItems", str(count))]


class AstDbMixin(SimCore):
    """The AMI actions on the AstDB (``SimCore.astdb``; the dialplan writes it there)."""

    # --- AMI actions ----------------------------------------------------------------
    async def _action_dbput(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        family, key = m.get("Family") or "", m.get("Key") or ""
        if not family:
            s.send(resp(aid, "Error", ("Message", "No family specified")))
        elif not key:
            s.send(resp(aid, "Error", ("Message", "No key specified")))
        else:
            self.db_put(family, key, m.get("Val") or "")
            s.send(resp(aid, "Success", ("Message", "Updated database successfully")))

    async def _action_dbget(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        family, key = m.get("Family") or "", m.get("Key") or ""
        if not family or not key:
            text = "No family specified." if not family else "No key specified."
            s.send(resp(aid, "Error", ("Message", text)))
            return
        value = self.astdb.get(f"/{family}/{key}")
        if value is None:
            s.send(resp(aid, "Error", ("Message", "Database entry not found")))
            return
        s.send(resp(aid, "Success", ("EventList", "start"), ("Message", "Result will follow")))
        s.send(_item("DBGetResponse", [("Family", family), ("Key", key), ("Val", value)], aid))
        s.send(_complete("DBGetComplete", aid, 1))

    async def _action_dbgettree(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        family, key = m.get("Family") or "", m.get("Key") or ""
        prefix = f"/{family}" + (f"/{key}" if family and key else "") if family else ""
        s.send(resp(aid, "Success", ("EventList", "start"), ("Message", "Result will follow")))
        rows = sorted(
            (k, v)
            for k, v in self.astdb.items()
            if not prefix or (k + "/").startswith(prefix + "/")
        )
        for k, v in rows:
            s.send(_item("DBGetTreeResponse", [("Key", k), ("Val", v)], aid))
        s.send(_complete("DBGetTreeComplete", aid, len(rows)))

    async def _action_dbdel(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        family, key = m.get("Family") or "", m.get("Key") or ""
        if not family or not key:
            text = "No family specified." if not family else "No key specified."
            s.send(resp(aid, "Error", ("Message", text)))
        elif self.astdb.pop(f"/{family}/{key}", None) is None:
            s.send(resp(aid, "Error", ("Message", "Database entry could not be deleted")))
        else:
            s.send(resp(aid, "Success", ("Message", "Key deleted successfully")))

    async def _action_dbdeltree(self, s: AmiSession, m: AmiMessage, aid: str | None) -> None:
        family, key = m.get("Family") or "", m.get("Key") or ""
        if not family:
            s.send(resp(aid, "Error", ("Message", "No family specified.")))
            return
        prefix = f"/{family}" + (f"/{key}" if key else "")
        doomed = [k for k in self.astdb if (k + "/").startswith(prefix + "/")]
        for k in doomed:
            del self.astdb[k]
        if doomed:
            s.send(resp(aid, "Success", ("Message", "Key tree deleted successfully")))
        else:
            s.send(resp(aid, "Error", ("Message", "Database entry not found")))


ACTIONS: dict[str, ActionHandler] = {
    "dbput": AstDbMixin._action_dbput,
    "dbget": AstDbMixin._action_dbget,
    "dbgettree": AstDbMixin._action_dbgettree,
    "dbdel": AstDbMixin._action_dbdel,
    "dbdeltree": AstDbMixin._action_dbdeltree,
}
