# Reference renderer for mws's tests: renders the given cases with the
# official Modal CLI (modal==1.6.4) and rich, so the Rust renderers can be
# compared byte for byte. Reads a JSON list of cases on stdin, writes a JSON
# list of outputs on stdout.
#
# "table" cases use rich directly, with Text cells (mws prints names verbatim,
# the official CLI would interpret [markup] in them). "members", "tokens" and
# "created" cases run the official CLI's own commands with the network call
# replaced by a canned protobuf answer.
import asyncio
import contextlib
import io
import json
import os
import sys
import time

from rich.console import Console
from rich.table import Table
from rich.text import Text

cases = json.load(sys.stdin)


def render_table(case):
    console = Console(file=io.StringIO(), width=case["width"], highlight=False)
    table = Table(*case["headers"], title="", header_style=None, border_style=None)
    for row in case["rows"]:
        table.add_row(*[Text(cell) for cell in row])
    console.print(table)
    return console.file.getvalue()


def official(case):
    os.environ["TZ"] = case["tz"]
    os.environ["COLUMNS"] = str(case.get("width", 80))
    time.tzset()

    import modal.cli.workspace as w
    from modal._workspace import _WorkspaceMembersManager, _WorkspaceProxyTokenManager
    from modal.output import enable_output
    from modal_proto import api_pb2

    kind = case["kind"]
    if kind == "members":
        resp = api_pb2.WorkspaceMembersListResponse(
            members=[
                api_pb2.WorkspaceMembersListItem(
                    member_displayname=m["name"],
                    email=m["email"],
                    member_role=m["role"],
                    user_id=m["user_id"],
                    joined_at=m["joined_at"],
                    last_active_at=m["last_active_at"],
                )
                for m in case["members"]
            ]
        )
    elif kind == "tokens":
        resp = api_pb2.WebhookTokenListResponse(
            tokens=[
                api_pb2.WebhookToken(
                    token_id=t["token_id"],
                    name=t["name"],
                    created_at=t["created_at"],
                    scoped=t["scoped"],
                    created_by=api_pb2.UserIdentity(username=t["created_by"]),
                )
                for t in case["tokens"]
            ]
        )
    else:
        resp = api_pb2.TokenCreateResponse(token_id=case["token_id"], token_secret=case["token_secret"])

    class Stub:
        async def WorkspaceMembersList(self, request):
            return resp

        async def WebhookTokenList(self, request):
            return resp

        async def WebhookTokenCreate(self, request):
            return resp

    class Client:
        _stub = Stub()

    class FakeWorkspace:
        client = Client()

        async def hydrate(self):
            return self

    class Sync:
        def __init__(self, manager):
            self.manager = manager

        def __getattr__(self, name):
            method = getattr(self.manager, name)
            return lambda *a, **k: asyncio.run(method(*a, **k))

    class Facade:
        members = Sync(_WorkspaceMembersManager(FakeWorkspace()))
        proxy_tokens = Sync(_WorkspaceProxyTokenManager(FakeWorkspace()))

    class Workspace:
        @staticmethod
        def from_context():
            return Facade()

    w.Workspace = Workspace
    command = {"members": w.members_list, "tokens": w.proxy_tokens_list, "created": w.proxy_tokens_create}[kind]
    args = ["--json"] if case["json"] else []
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), enable_output():
        command.main(args, standalone_mode=False)
    return buf.getvalue()


out = [render_table(case) if case["kind"] == "table" else official(case) for case in cases]
json.dump(out, sys.stdout)
