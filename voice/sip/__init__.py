"""The SIP adapter: the only package that imports pjsua2 (worker: the loop and the calls; accounts:
pjsua2 calls and accounts; ports: media frames). Everything a call decides is sans-io, in voice.call
and voice.flows."""
