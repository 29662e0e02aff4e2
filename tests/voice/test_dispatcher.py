"""Kamailio in front of the voice workers: how calls are shared out, which trunks may call, and a
generated configuration that the installed Kamailio itself accepts."""

from __future__ import annotations

import re

import pytest

from appliance.settings import SettingsError, load_settings
from voice import dispatcher
from voice.dispatcher import Plan, render_config, render_dispatcher_list, trunk_networks


def settings_from(tmp_path, **values):
    """Settings read from a TOML file with these values (and the defaults otherwise)."""
    path = tmp_path / "madoguchi.toml"
    lines = [f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_settings(path, environ={})


@pytest.mark.parametrize(("max_calls", "workers"), [(1, 1), (4, 2), (5, 3), (12, 6), (50, 25)])
def test_plan_has_a_worker_for_every_two_calls_then_the_overflow_worker(tmp_path, max_calls, workers):
    """Each worker has 4 call places and a call that may be put through keeps a second one for the
    transfer's leg: voice_max_calls such calls need a worker for every two. The overflow worker comes
    after them, each on its own port from voice_worker_base_port up."""
    plan = Plan.from_settings(settings_from(tmp_path, voice_max_calls=max_calls, voice_worker_base_port=6000))
    assert plan.workers == workers
    assert plan.overflow_index == workers
    assert [plan.worker_port(i) for i in range(plan.workers + 1)] == list(range(6000, 6000 + workers + 1))


def test_dispatcher_list_has_workers_in_set_1_and_overflow_in_set_2(tmp_path):
    """Set 1 lists every ordinary worker (round robin), set 2 only the overflow worker."""
    plan = Plan.from_settings(settings_from(tmp_path, voice_max_calls=6, voice_worker_base_port=5070))
    assert render_dispatcher_list(plan).splitlines() == [
        "1 sip:127.0.0.1:5070 0 0",
        "1 sip:127.0.0.1:5071 0 0",
        "1 sip:127.0.0.1:5072 0 0",
        "2 sip:127.0.0.1:5073 0 0",
    ]


# --- trunk addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "networks"), [
    ("192.0.2.10", ["192.0.2.10/32"]),
    ("198.51.100.0/24", ["198.51.100.0/24"]),
    ("198.51.100.77/24", ["198.51.100.0/24"]),  # host bits given: the network meant
    (" 192.0.2.10 ,198.51.100.0/24 , ", ["192.0.2.10/32", "198.51.100.0/24"]),
    ("192.0.2.1,,192.0.2.2", ["192.0.2.1/32", "192.0.2.2/32"]),
    ("2001:db8::1, 2001:db8:1::/48", ["2001:db8::1/128", "2001:db8:1::/48"]),
])
def test_trunk_networks_parsing(text, networks):
    """Single addresses become /32 (/128) networks, CIDRs are kept, spaces and empty items are ignored."""
    assert trunk_networks(text) == networks


@pytest.mark.parametrize("item", ["192.0.2.300", "sip.example.jp", "192.0.2.0/33", "192.0.2.1-192.0.2.9"])
def test_bad_trunk_address_is_a_settings_error_naming_it(item):
    """Anything that is not an address or network stops the start, naming the offending item."""
    with pytest.raises(SettingsError, match=re.escape(repr(item))):
        trunk_networks(f"192.0.2.1, {item}")


@pytest.mark.parametrize("text", ["", "  ", " , ,"])
def test_no_trunk_address_is_a_settings_error(text):
    """An allowlist with nothing in it would refuse every call: refused as a setting instead."""
    with pytest.raises(SettingsError, match="empty"):
        trunk_networks(text)


# --- the generated configuration ---------------------------------------------------------------------


def test_allowlist_config_admits_each_trunk_network_and_routes_in_dialog(tmp_path):
    """In allowlist mode each trunk network appears in an is_in_subnet test of the source address,
    new INVITEs are record-routed and in-dialog requests follow loose_route."""
    settings = settings_from(tmp_path, sip_listen="127.0.0.1:25060",
                             sip_trunk_addresses="192.0.2.10, 198.51.100.0/24, 2001:db8::/32")
    text = render_config(settings, Plan.from_settings(settings), tmp_path / "run")
    for net in ("192.0.2.10/32", "198.51.100.0/24", "2001:db8::/32"):
        assert f'is_in_subnet("$si", "{net}")' in text
    assert "record_route();" in text and "loose_route()" in text
    assert "listen=udp:127.0.0.1:25060" in text and "listen=tcp:127.0.0.1:25060" in text
    assert f'"list_file", "{tmp_path / "run" / "dispatcher.list"}"' in text
    assert 'ds_select_dst("1"' in text and 'ds_select_dst("2"' in text


def test_config_marks_the_worker_port_range(tmp_path):
    """Requests from the workers' own ports (5070 up to the overflow worker) are recognised as theirs."""
    settings = settings_from(tmp_path, voice_max_calls=12, voice_worker_base_port=5070)
    text = render_config(settings, Plan.from_settings(settings), tmp_path)
    assert "$sp >= 5070 && $sp <= 5076" in text  # 6 workers (2 calls that may transfer each), then the overflow worker


def test_any_interface_listens_by_port_and_public_address_is_advertised(tmp_path):
    """0.0.0.0 listens on every interface by port alone; with one interface and a public address the
    listen lines advertise that address."""
    settings = settings_from(tmp_path, sip_listen="0.0.0.0:25060")
    text = render_config(settings, Plan.from_settings(settings), tmp_path)
    assert "port=25060" in text and "listen=" not in text
    settings = settings_from(tmp_path, sip_listen="127.0.0.1:25060", sip_public_address="203.0.113.9")
    text = render_config(settings, Plan.from_settings(settings), tmp_path)
    assert "listen=udp:127.0.0.1:25060 advertise 203.0.113.9:25060" in text


def test_register_mode_admits_the_registrar_address(tmp_path):
    """In register mode calls are taken from the registrar's address (port ignored) only."""
    settings = settings_from(tmp_path, sip_trunk_mode="register", sip_registrar="192.0.2.5:5080", sip_username="madoguchi")
    text = render_config(settings, Plan.from_settings(settings), tmp_path)
    assert 'is_in_subnet("$si", "192.0.2.5/32")' in text
    assert "127.0.0.1/32" not in text  # the allowlist default is not used


def test_register_mode_with_a_registrar_host_name_can_admit_its_calls(tmp_path):
    """sip_registrar may be a host name (host[:port]); $si is always an IP address, so comparing it as
    text with the name would refuse every call with 403. The name must be matched by its addresses
    (resolved into is_in_subnet tests, or with ipops' dns_int_match_ip)."""
    settings = settings_from(tmp_path, sip_trunk_mode="register", sip_registrar="localhost:5060", sip_username="madoguchi")
    text = render_config(settings, Plan.from_settings(settings), tmp_path)
    assert '$si == "localhost"' not in text
    assert 'is_in_subnet("$si", "127.0.0.1/32")' in text or "dns_int_match_ip(" in text


@pytest.mark.parametrize("values", [
    {"sip_listen": "127.0.0.1:25060", "sip_trunk_addresses": "192.0.2.10, 198.51.100.0/24"},
    {"sip_listen": "0.0.0.0:25060", "voice_max_calls": 50},
    {"sip_listen": "127.0.0.1:25060", "sip_public_address": "203.0.113.9", "voice_max_calls": 1},
    {"sip_listen": "127.0.0.1:25060", "sip_trunk_mode": "register", "sip_registrar": "192.0.2.5:5060",
     "sip_username": "madoguchi"},
])
def test_generated_config_is_accepted_by_kamailio(tmp_path, values):
    """write_config writes the configuration and the dispatcher list, and `kamailio -c` accepts them."""
    settings = settings_from(tmp_path, **values)
    plan = Plan.from_settings(settings)
    path = dispatcher.write_config(settings, plan, tmp_path / "run")
    assert (tmp_path / "run" / "dispatcher.list").read_text() == render_dispatcher_list(plan)
    dispatcher.validate(path)


@pytest.mark.parametrize(("damage", "named"), [
    (lambda text: text.replace("is_in_subnet(", "no_such_function(", 1), "no_such_function"),
    (lambda text: text.replace('loadmodule "ipops.so"', 'loadmodule "no_such_module.so"'), "no_such_module"),
])
def test_broken_config_is_refused_with_kamailios_reason(tmp_path, damage, named):
    """A configuration Kamailio cannot load raises SettingsError carrying Kamailio's own error lines."""
    settings = settings_from(tmp_path, sip_listen="127.0.0.1:25060")
    path = dispatcher.write_config(settings, Plan.from_settings(settings), tmp_path / "run")
    path.write_text(damage(path.read_text()))
    with pytest.raises(SettingsError, match="Kamailio refuses") as refused:
        dispatcher.validate(path)
    assert named in str(refused.value)
    assert str(path) in str(refused.value)


def test_extensions_are_in_a_private_config_kamailio_accepts(tmp_path):
    """Each extension's HA1 is chosen by the number registering (and a transfer to it looks up where it
    registered); the file holding them is readable by the service user only; odd entries are left out."""
    import stat

    from db.extensions import ha1
    settings = settings_from(tmp_path, sip_listen="127.0.0.1:25060", staff_phone_networks="192.168.10.0/24")
    digest = ha1("2101", "pw")
    path = dispatcher.write_config(settings, Plan.from_settings(settings), tmp_path / "run",
                                   {"2101": digest, "21x": digest, "2102": "short"})
    text = path.read_text()
    assert f'case "2101":\n            $var(ha1) = "{digest}";' in text
    assert "21x" not in text and '"2102"' not in text
    assert 'is_in_subnet("$si", "192.168.10.0/24")' in text and 'lookup("location")' in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    dispatcher.validate(path)
