"""The playbook helper itself: it fails when the flow returns a command nobody expected, when an
expected one never comes, or when one does not match."""

import pytest

from tests.voice.playbook import Playbook, context, said, started
from voice.call.events import Answer, Listen
from voice.flows.echo import EchoFlow


def test_an_unexpected_command_fails_the_playbook():
    with pytest.raises(AssertionError, match="did not expect"):
        assert Playbook(EchoFlow(context())) << started() >> Answer()


def test_a_missing_command_fails_the_playbook():
    with pytest.raises(AssertionError, match="returned nothing more"):
        assert Playbook(EchoFlow(context())) << started() >> Answer() >> said() >> Listen >> Listen


def test_a_wrong_command_fails_the_playbook():
    with pytest.raises(AssertionError, match="expected said"):
        assert Playbook(EchoFlow(context())) << started() >> Answer() >> said("さようなら") >> Listen
