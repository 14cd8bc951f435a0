"""Context isolation: nothing of one context reaches another context's journal, views or keys."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aura_core.errors import AuraError, AuthorizationDenied, ValidationError
from aura_core.identifiers import ContextId
from aura_journal.journal import Journal
from aura_journal.namespace import JournalNamespace
from aura_protocol.guards import Receipt, SendRequest, journal_name


def _load_world():
    name = "aura_protocol_test_guard_world"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("protocol_guard_world.py")
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


W = _load_world()
NAMES = ["ann", "ben", "cat", "dan"]
CONTEXTS = {
    ContextId(bytes([i]) * 16): members
    for i, members in (
        (1, ["ann", "ben", "cat"]),
        (2, ["ben", "cat", "dan"]),
        (3, ["ann", "dan"]),
    )
}
CTX_LIST = list(CONTEXTS)

operations = st.lists(
    st.tuples(
        st.sampled_from(range(len(CTX_LIST))),
        st.sampled_from(NAMES),
        st.sampled_from(NAMES),
        st.sampled_from(["deliver", "wrong_channel", "wrong_receiver"]),
        st.integers(0, 3),
    ),
    min_size=1,
    max_size=12,
)


def _world():
    world = W.GuardWorld(NAMES)
    for context, members in CONTEXTS.items():
        world.context(context, members)
    return world


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_no_fact_or_message_of_one_context_appears_in_another(ops) -> None:
    world = _world()
    for step, (ctx_index, sender, receiver, route, cost) in enumerate(ops):
        context = CTX_LIST[ctx_index]
        members = CONTEXTS[context]
        if sender == receiver:
            continue
        request = SendRequest(
            context=context,
            peer=world[receiver].authority,
            address=f"mem://{receiver}",
            payload=b"step %d" % step,
            capability=W.SEND,
            cost=cost,
            facts=(W.note_fact(context, f"s{step}", step),),
        )
        if sender not in members or receiver not in members:
            before = world.dump(sender)
            try:
                world[sender].sender.commit(request)
            except AuthorizationDenied:
                assert world.dump(sender) == before
                continue
            raise AssertionError("a send across the context boundary was committed")
        committed = world[sender].sender.commit(request)
        data = committed.envelope.encode()
        if route == "wrong_channel":
            others = [c for c, m in CONTEXTS.items() if c != context and receiver in m]
            for other in others:  # arrives on the receiver's channel of another context
                before = world.dump(receiver)
                try:
                    world[receiver].receiver.accept(data, context=other)
                except ValidationError:
                    pass
                else:  # pragma: no cover
                    raise AssertionError("an envelope crossed into another context's channel")
                assert world.dump(receiver) == before
        elif route == "wrong_receiver":
            outsiders = [n for n in NAMES if n not in members]
            for outsider in outsiders:
                before = world.dump(outsider)
                try:
                    world[outsider].receiver.accept(data)
                except ValidationError:
                    pass
                else:  # pragma: no cover
                    raise AssertionError("an outsider accepted a context's envelope")
                assert world.dump(outsider) == before
        world[receiver].receiver.accept(data, context=context)
        world[sender].sender.drain(lambda address, envelope: None)

    for name in NAMES:
        agent = world[name]
        registry = agent.stack.registry
        for context in CTX_LIST:
            namespace = JournalNamespace.context(context)
            with agent.storage.transaction(readonly=True) as txn:
                stored = txn.scan_facts(journal_name(namespace))
            if name not in CONTEXTS[context]:
                assert stored == [], f"{name} holds facts of a context it is not in"
            journal = Journal(namespace, registry)
            for item in stored:
                fact = journal.ingest(item.body)  # every journal rule, namespace included
                body = registry.body(fact)
                owner = body.ctx if isinstance(body, Receipt) else body.context
                assert owner == context
            if len(journal):
                assert {type(registry.body(f)).__name__ for f in journal} <= {"Receipt", "Note"}
        # the authority journal holds only this authority's own charges, in its contexts
        with agent.storage.transaction(readonly=True) as txn:
            charges = txn.scan_facts(journal_name(JournalNamespace.authority(agent.authority)))
            flow_rows = txn.scan("guard_flow")
        mine = {c for c, members in CONTEXTS.items() if name in members}
        ledger = Journal(JournalNamespace.authority(agent.authority), registry)
        for item in charges:
            ledger.ingest(item.body)
        for context, _peer, _epoch, _spent in ledger.state("flow_budget").items():
            assert context in mine
        assert {ContextId(key[:16]) for key, _ in flow_rows} <= mine


def test_keys_of_one_authority_differ_in_every_context() -> None:
    world = _world()
    for name in NAMES:
        agent = world[name]
        identities = [agent.identity(c) for c, members in CONTEXTS.items() if name in members]
        for field in ("signing_public", "channel_public"):
            values = [getattr(i, field) for i in identities]
            assert len(set(values)) == len(values)
        psks = [i.channel_keys.psk for i in identities]
        assert len(set(psks)) == len(psks)
    for context, members in CONTEXTS.items():
        roster = world.rosters[context]
        for other, other_members in CONTEXTS.items():
            if other == context:
                continue
            shared = {world[n].authority for n in set(members) & set(other_members)}
            for authority in shared:
                here, there = roster.member(authority), world.rosters[other].member(authority)
                assert here.signing_key != there.signing_key
                assert here.channel_key != there.channel_key


def test_a_fact_of_another_context_cannot_be_coupled_or_smuggled() -> None:
    world = _world()
    first, second = CTX_LIST[0], CTX_LIST[1]
    foreign = W.note_fact(second, "foreign")
    try:
        world["ben"].sender.commit(
            SendRequest(
                context=first,
                peer=world["cat"].authority,
                address="mem://cat",
                payload=b"",
                capability=W.SEND,
                facts=(foreign,),
            )
        )
    except AuraError as exc:
        assert "cannot be committed" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a foreign fact was coupled")
