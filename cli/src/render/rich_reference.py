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


def render_console(case):
    # rich.print / OutputManager.print of plain text on a console this wide.
    console = Console(file=io.StringIO(), width=case["width"], highlight=False, markup=False, emoji=False)
    console.print(case["text"])
    return console.file.getvalue()


def admin(case):
    """The official settings / service-users / member-tokens commands."""
    os.environ["TZ"] = case["tz"]
    os.environ["COLUMNS"] = str(case.get("width", 80))
    time.tzset()

    import modal.cli.workspace as w
    from google.protobuf.timestamp_pb2 import Timestamp
    from modal._workspace import (
        _WorkspaceMemberTokenManager,
        _WorkspaceServiceUserManager,
        _WorkspaceSettingsManager,
    )
    from modal.output import enable_output
    from modal_proto import api_pb2

    def service_user(u):
        return api_pb2.ServiceUser(
            name=u["name"],
            service_user_id=u["service_user_id"],
            token_id=u["token_id"],
            created_by=u["created_by"],
            created_at=u["created_at"],
            last_used_at=u["last_used_at"],
            expires_at=u["expires_at"],
            environment_roles=[
                api_pb2.ServiceUser.EnvironmentRoleEntry(environment_name=e, role_str=r)
                for e, r in u["environment_roles"]
            ],
        )

    data = case.get("data")

    class Stub:
        async def ServiceUserList(self, request):
            return api_pb2.ServiceUserListResponse(service_users=[service_user(u) for u in data])

        async def ServiceUserInfo(self, request):
            return api_pb2.ServiceUserInfoResponse(service_user=service_user(data))

        async def ServiceUserCreate(self, request):
            expires = Timestamp()
            expires.FromNanoseconds(int(data["expires_at"] * 1e9))
            return api_pb2.ServiceUserCreateResponse(
                token_id=data["token_id"], token_secret=data["token_secret"], expires_at=expires
            )

        async def TokensList(self, request):
            return api_pb2.TokensListResponse(
                tokens=[
                    api_pb2.TokensListResponse.Token(
                        token_id=t["token_id"],
                        name=t["name"],
                        user_id=t["user_id"],
                        member_displayname=t["username"],
                        created_at=t["created_at"],
                        last_used_at=t["last_used_at"],
                        expires_at=t["expires_at"],
                        disabled=t["disabled"],
                    )
                    for t in data
                ]
            )

        async def WorkspaceSettings(self, request):
            return api_pb2.WorkspaceSettingsResponse(
                default_environment_name=data["default_environment"],
                image_builder_version=data["image_builder_version"],
            )

    class Client:
        _stub = Stub()

    class FakeWorkspace:
        client = Client()
        _is_hydrated = True

        async def hydrate(self):
            return self

    class Sync:
        def __init__(self, manager):
            self.manager = manager

        def __getattr__(self, name):
            method = getattr(self.manager, name)
            return lambda *a, **k: asyncio.run(method(*a, **k))

    class Facade:
        service_users = Sync(_WorkspaceServiceUserManager(FakeWorkspace()))
        member_tokens = Sync(_WorkspaceMemberTokenManager(FakeWorkspace()))
        settings = Sync(_WorkspaceSettingsManager(FakeWorkspace()))

    class Workspace:
        @staticmethod
        def from_context():
            return Facade()

    class AsyncWorkspace:
        @staticmethod
        def from_context():
            return FakeWorkspace()

    w.Workspace = Workspace
    w._Workspace = AsyncWorkspace
    command = {
        "su_list": w.service_users_list,
        "su_info": w.service_users_info,
        "su_create": w.service_users_create,
        "mt_list": w.member_tokens_list,
        "settings": w.settings_group,
    }[case["kind"]]
    args = list(case.get("args", [])) + (["--json"] if case["json"] else [])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), enable_output():
        command.main(args, standalone_mode=False)
    return buf.getvalue()


def run(case):
    kind = case["kind"]
    if kind == "table":
        return render_table(case)
    if kind == "console":
        return render_console(case)
    if kind in ("su_list", "su_info", "su_create", "mt_list", "settings"):
        return admin(case)
    return official(case)


out = [run(case) for case in cases]
json.dump(out, sys.stdout)
