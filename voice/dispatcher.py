"""Kamailio as the SIP front door: its configuration is generated from the settings at every start.

Kamailio takes calls on sip_listen (UDP and TCP), refuses what the trunk settings do not allow (403),
and hands each new INVITE to a voice worker (dispatcher set 1, round robin). A worker that is full
answers 486 and Kamailio tries the next; when every worker is full the call goes to the overflow
worker (set 2), which only says voice_busy_announcement and hangs up; if even that is full, 503.
In-dialog requests follow the Record-Route (loose_route), so ACK, BYE and re-INVITEs reach the worker
that answered.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from appliance.settings import SettingsError

MODULES = ("tm", "tmx", "sl", "rr", "pv", "maxfwd", "textops", "siputils", "xlog", "sanity", "dispatcher", "ipops",
           "usrloc", "registrar", "auth")
REALM = "madoguchi"  # db/extensions.REALM: the digest realm staff phones authenticate in
SIP_PASSWORD_FILE = "sip_password"  # in key_dir: the register-mode digest password
MODULE_PATHS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules",
                "/usr/lib/kamailio/modules")


@dataclass(frozen=True)
class Plan:
    """How many workers, with how many calls each; the overflow worker comes last."""

    calls_per_worker: tuple[int, ...]
    base_port: int

    @classmethod
    def from_settings(cls, settings) -> Plan:
        total, per = settings.voice_max_calls, []
        while total > 0:
            per.append(min(settings.voice_calls_per_worker, total))
            total -= per[-1]
        return cls(tuple(per), settings.voice_worker_base_port)

    @property
    def workers(self) -> int:
        return len(self.calls_per_worker)

    @property
    def overflow_index(self) -> int:
        return self.workers

    def worker_port(self, index: int) -> int:
        return self.base_port + index


def trunk_networks(text: str) -> list[str]:
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"sip_trunk_addresses: {item!r} is not an address or network") from None
    if not networks:
        raise SettingsError("sip_trunk_addresses is empty: no trunk could call in")
    return networks


def module_path() -> str:
    for path in MODULE_PATHS:
        if (Path(path) / "dispatcher.so").exists():
            return path
    raise SettingsError("Kamailio's modules are not installed (Debian package kamailio; make run installs it)")


def render_dispatcher_list(plan: Plan) -> str:
    lines = [f"1 sip:127.0.0.1:{plan.worker_port(i)} 0 0" for i in range(plan.workers)]
    lines.append(f"2 sip:127.0.0.1:{plan.worker_port(plan.overflow_index)} 0 0")
    return "\n".join(lines) + "\n"


def render_extensions(extensions: dict[str, str]) -> str:
    """The HA1 of each extension's password ("" for a number that is none), for $var(extension). (Kamailio
    refuses at run time, not in `kamailio -c`, a switch with only a default: no extensions, no switch.)"""
    cases = "".join(f'        case "{number}":\n            $var(ha1) = "{ha1}";\n            break;\n'
                    for number, ha1 in sorted(extensions.items()) if number.isdigit() and len(ha1) == 32)
    if not cases:
        return 'route[EXTENSION_HA1] {\n    $var(ha1) = "";\n}'
    return ("route[EXTENSION_HA1] {\n    $var(ha1) = \"\";\n    switch ($var(extension)) {\n" + cases
            + "        default:\n            $var(ha1) = \"\";\n    }\n}")


def render_config(settings, plan: Plan, run_dir: Path, extensions: dict[str, str] | None = None) -> str:
    host, port = settings.sip_listen.rsplit(":", 1)
    advertise = f" advertise {settings.sip_public_address}:{port}" if settings.sip_public_address else ""
    if host in ("", "0.0.0.0"):  # every interface, each bound by its own address (so Via/Record-Route are real)
        listen = f"port={port}"
    else:  # one interface, plus loopback to reach the workers
        listen = (f"listen=udp:{host}:{port}{advertise}\nlisten=tcp:{host}:{port}{advertise}\n"
                  f"listen=udp:127.0.0.1:{plan.base_port - 1}\nmhomed=1")
    if settings.sip_trunk_mode == "register":
        allowed = " || ".join(f'is_in_subnet("$si", "{net}")' for net in registrar_networks(settings.sip_registrar))
    else:
        allowed = " || ".join(f'is_in_subnet("$si", "{net}")' for net in trunk_networks(settings.sip_trunk_addresses))
    first_worker, last_worker = plan.worker_port(0), plan.worker_port(plan.overflow_index)
    loads = "\n".join(f'loadmodule "{name}.so"' for name in MODULES)
    phones = " || ".join(f'is_in_subnet("$si", "{net}")' for net in trunk_networks(settings.staff_phone_networks))
    extension_route = render_extensions(extensions or {})
    return f"""#!KAMAILIO
# Generated by `madoguchi voice` from the settings at every start: edit the settings, not this file.
debug=2
log_stderror=yes
fork=yes
children=4
tcp_children=2
auto_aliases=no
{listen}
server_header="Server: madoguchi"
user_agent_header="User-Agent: madoguchi"

mpath="{module_path()}"
{loads}

modparam("rr", "enable_full_lr", 1)
modparam("tm", "fr_timer", 3000)
modparam("tm", "fr_inv_timer", 60000)
modparam("dispatcher", "list_file", "{run_dir / 'dispatcher.list'}")
modparam("dispatcher", "ds_ping_interval", 2)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 2)
modparam("dispatcher", "ds_ping_from", "sip:dispatcher@127.0.0.1")
modparam("dispatcher", "flags", 2)  # keep the other workers as failover destinations (ds_next_dst)
modparam("usrloc", "db_mode", 0)
modparam("registrar", "max_expires", 3600)
modparam("registrar", "min_expires", 30)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check("17895", "7")) {{
        xlog("L_WARN", "malformed SIP from $si:$sp dropped\\n");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            route(RELAY);
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) route(RELAY);
            exit;
        }}
        sl_send_reply("404", "Not Here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) route(RELAY);
        exit;
    }}
    if (t_precheck_trans()) {{
        t_check_trans();  # a retransmission: absorbed
        exit;
    }}
    t_check_trans();
    if ($si == "127.0.0.1" && $sp >= {first_worker} && $sp <= {last_worker}) {{
        # a worker's own request (registration with the trunk, a transfer call): out by its request URI
        loose_route();  # drop the Route to us that the worker's outbound proxy setting put in
        if (!is_method("REGISTER")) record_route();
        if (is_method("INVITE") && $rU =~ "^[0-9]{{2,6}}$") {{
            $var(extension) = $rU;
            route(EXTENSION_HA1);
            if ($var(ha1) != "") {{  # a transfer to a staff phone of this box: where it registered from
                if (!lookup("location")) {{
                    sl_send_reply("480", "Temporarily Unavailable");
                    exit;
                }}
                route(RELAY);
            }}
        }}
        route(RELAY);
    }}
    if (is_method("REGISTER")) {{
        route(STAFF_PHONE);
    }}
    if (is_method("OPTIONS")) {{  # a trunk's keepalive, to the box or to a number on it
        sl_send_reply("200", "OK");
        exit;
    }}
    if (!({allowed})) {{
        xlog("L_NOTICE", "$rm from $si refused: not a trunk address\\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    if (!is_method("INVITE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
    if (!ds_select_dst("1", "4")) {{
        route(OVERFLOW);
    }}
    t_on_failure("NEXT_WORKER");
    route(RELAY);
}}

route[STAFF_PHONE] {{
    # a staff phone registering as an extension: from the staff networks, with its digest password
    if (!({phones})) {{
        xlog("L_NOTICE", "REGISTER from $si refused: not a staff phone network\\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    $var(extension) = $tU;
    route(EXTENSION_HA1);
    if ($var(ha1) == "" || !pv_auth_check("{REALM}", "$var(ha1)", "1", "1")) {{
        auth_challenge("{REALM}", "0");
        exit;
    }}
    consume_credentials();
    if (!save("location")) sl_reply_error();
    exit;
}}

{extension_route}

event_route[dispatcher:dst-down] {{
    xlog("L_WARN", "dispatcher: worker $rd:$rp is down (no answer to its keepalive)\\n");
}}

event_route[dispatcher:dst-up] {{
    xlog("L_NOTICE", "dispatcher: worker $rd:$rp is up again\\n");
}}

route[RELAY] {{
    if (!t_relay()) sl_reply_error();
    exit;
}}

route[OVERFLOW] {{
    if (!ds_select_dst("2", "4")) {{
        append_to_reply("Retry-After: 60\\r\\n");
        sl_send_reply("503", "Service Unavailable");
        exit;
    }}
    t_on_failure("GIVE_UP");
    route(RELAY);
}}

failure_route[NEXT_WORKER] {{
    if (t_is_canceled()) exit;
    if (t_check_status("486|408|500|503") || t_branch_timeout()) {{
        if (ds_next_dst()) {{
            t_on_failure("NEXT_WORKER");
            route(RELAY);
        }}
        if (ds_select_dst("2", "4")) {{
            t_on_failure("GIVE_UP");
            route(RELAY);
        }}
    }}
}}

failure_route[GIVE_UP] {{
    if (t_is_canceled()) exit;
    if (t_check_status("486|408|500") || t_branch_timeout()) {{
        append_to_reply("Retry-After: 60\\r\\n");
        t_reply("503", "Service Unavailable");
    }}
}}
"""


def registrar_host(registrar: str) -> str:
    """The host of host[:port], [v6][:port] or a bare IPv6 address."""
    if registrar.startswith("["):
        return registrar[1:registrar.index("]")]
    if registrar.count(":") == 1:
        return registrar.split(":")[0]
    return registrar


def registrar_networks(registrar: str) -> list[str]:
    """The registrar's addresses (resolved now, at start) as single-host networks: $si is always an IP."""
    host = registrar_host(registrar)
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_UDP)}
    except OSError as exc:
        raise SettingsError(f"sip_registrar {registrar!r}: cannot resolve {host!r} ({exc})") from None
    return sorted(str(ipaddress.ip_network(address)) for address in addresses)


def trunk_password(settings) -> str:
    path = settings.key_dir / SIP_PASSWORD_FILE
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        raise SettingsError(f"register mode: {path} is missing (run `madoguchi voice trunk-password`)") from None


def loopback_uri(settings, plan: Plan) -> str:
    """Where a worker sends its own requests into Kamailio (the outbound proxy of its accounts)."""
    host, port = settings.sip_listen.rsplit(":", 1)
    if host not in ("", "0.0.0.0", "127.0.0.1"):
        port = str(plan.base_port - 1)  # the extra loopback listener render_config adds
    return f"sip:127.0.0.1:{port};lr"


def contact_address(settings) -> str:
    """host:port the trunk should send calls to (Kamailio's): the public address, the listen address,
    or else the local address the system would use to reach the registrar."""
    host, port = settings.sip_listen.rsplit(":", 1)
    if settings.sip_public_address:
        return f"{settings.sip_public_address}:{port}"
    if host not in ("", "0.0.0.0"):
        return f"{host}:{port}"
    target = registrar_networks(settings.sip_registrar)[0].split("/")[0]
    with socket.socket(socket.AF_INET6 if ":" in target else socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((target, 5060))  # UDP connect sends nothing: it only picks the route
        local = probe.getsockname()[0]
    return f"[{local}]:{port}" if ":" in local else f"{local}:{port}"


def write_config(settings, plan: Plan, run_dir: Path, extensions: dict[str, str] | None = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "dispatcher.list").write_text(render_dispatcher_list(plan))
    path = run_dir / "kamailio.cfg"
    path.touch(mode=0o600)
    path.chmod(0o600)  # it holds the extensions' HA1
    path.write_text(render_config(settings, plan, run_dir, extensions))
    return path


def command(config: Path, run_dir: Path) -> list[str]:
    return ["kamailio", "-f", str(config), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(run_dir),
            "-P", str(run_dir / "kamailio.pid")]


def validate(config: Path) -> None:
    """Kamailio's own check of the generated file, so a bad setting stops the start with its reason."""
    import subprocess

    result = subprocess.run(["kamailio", "-c", "-f", str(config)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        errors = [line.strip() for line in (result.stderr + result.stdout).splitlines() if "ERROR" in line]
        raise SettingsError(f"Kamailio refuses the generated {config}: " + " | ".join(errors[:3]))
