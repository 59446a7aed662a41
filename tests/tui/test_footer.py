"""The footer: its keys follow what can be done now, and it is rebuilt only when they change."""

from __future__ import annotations

from rich.cells import cell_len

from .conftest import SIZE, make_app, wait_for, wait_job, wait_ready


def _keys(app) -> dict[str, bool]:
    """The footer's keys: description → enabled (a disabled key is shown dimmed). Empty for a
    moment while the footer rebuilds: poll with ``.get``."""
    return {k.description: not k.has_class("-disabled") for k in app.query("FooterKey")}


async def test_footer_follows_the_keys_and_is_rebuilt_only_when_they_change(
    samples_dir, attack_gate
):
    app = make_app(str(samples_dir))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(pilot)
        keys = _keys(app)
        assert keys["attack"] and keys["help"] and keys["quit"]
        assert not keys["cancel"] and not keys["save"]
        # the same keys: the footer keeps its key widgets (Textual's own Footer rebuilds them
        # all on every bindings signal)
        before = list(app.query("FooterKey"))
        app.refresh_bindings()
        await pilot.pause()
        after = list(app.query("FooterKey"))
        assert all(a is b for a, b in zip(after, before, strict=True))
        # an attack runs (held by the gate): esc cancels it, a cannot start another
        await pilot.press("a")
        await wait_for(pilot, lambda: _keys(app).get("cancel", False), what="esc enabled")
        assert not _keys(app)["attack"]
        attack_gate.set()
        await wait_job(pilot)
        await wait_for(pilot, lambda: _keys(app).get("save", False), what="s enabled")
        keys = _keys(app)
        assert not keys["cancel"] and not keys["attack"]  # this result is on screen already
        await pilot.press("j")  # another image: nothing to save there yet
        await wait_for(pilot, lambda: _keys(app).get("attack", False), what="a enabled")
        assert not _keys(app)["save"]


async def test_at_80x24_every_footer_key_is_whole_and_help_lists_the_rest(samples_dir):
    from advtui.tui.screens import KEYS

    app = make_app(str(samples_dir))
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_ready(pilot)
        footer = app.query_one("KeyFooter")
        assert footer.hidden == ()  # 160 columns: every key
        wide = [k.description for k in app.query("FooterKey")]
        assert "ε grid" in wide and "save" in wide and "cancel" in wide
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: footer.hidden != (), what="the footer refitted")
        await pilot.pause()
        keys = list(app.query("FooterKey"))
        assert keys and all(0 <= k.region.x and k.region.right <= 80 for k in keys)
        for a, b in zip(keys, keys[1:], strict=False):
            assert a.region.right <= b.region.x  # side by side, none over another
        shown = {k.description for k in keys}
        assert {"help", "cancel", "attack"} <= shown  # help and cancel are kept first
        # each key's text ("a attack") fits the cells it is given: nothing is cut
        for k in keys:
            text = k.render().plain
            assert text.strip() == f"{k.key_display} {k.description}"
            assert cell_len(text) <= k.region.width
        # the keys left out are on the help screen
        by_action = {b.action: b for b in app.BINDINGS}
        listed = " ".join(k for k, _ in KEYS)
        for action in footer.hidden:
            binding = by_action[action]
            assert (binding.key_display or binding.key) in listed
