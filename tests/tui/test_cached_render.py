"""CachedRender: tables render once per change of data, width or style, and paint the same."""

from __future__ import annotations

from textual.app import App

from advtui.tui.widgets import ConfidenceTable, EvidenceTable

CLEAN = [
    {"index": 281, "label": "tabby", "prob": 0.61},
    {"index": 282, "label": "tiger cat", "prob": 0.2},
]
ADV = [{"index": 1, "label": "goldfish", "prob": 0.97}]


class One(App):
    CSS = "ConfidenceTable, EvidenceTable { height: auto; background: $panel; color: $text; }"

    def compose(self):
        yield ConfidenceTable()
        yield EvidenceTable()


def _text(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_table_renders_once_per_change_and_follows_width_and_theme():
    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(ConfidenceTable)
        calls: list[int] = []
        real = table.build
        table.build = lambda width: calls.append(width) or real(width)
        table.set_rows(CLEAN, ADV, target=1)
        await pilot.pause()
        assert table.size.height == 6  # header + 5 rows, measured from the cached render
        shown = _text(table)
        assert "tabby" in shown and "goldfish" in shown and "61.0%" in shown
        n = len(calls)
        for _ in range(3):  # repaints with nothing changed
            table.refresh()
            await pilot.pause()
            assert _text(table) == shown
        assert len(calls) == n
        # the same strips Textual renders from render() itself
        from textual.visual import Visual, visualize

        direct = Visual.to_strips(
            table, visualize(table, table.render()), table.size.width, None, table.visual_style
        )
        assert [s.text for s in direct] == [table.render_line(y).text for y in range(6)]

        table.set_rows(ADV, CLEAN)  # new data
        await pilot.pause()
        assert len(calls) > n and _text(table).splitlines()[1].lstrip().startswith("goldfish")

        n = len(calls)
        await pilot.resize_terminal(50, 20)  # narrower: "adv." header, rendered again
        await pilot.pause()
        assert len(calls) > n and "adv." in _text(table) and table.size.width == 50

        before = table.render_line(1)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        after = table.render_line(1)
        assert after.text == before.text
        assert list(after)[0].style != list(before)[0].style  # new theme's colours


async def test_evidence_table_keeps_its_height_with_and_without_data():
    app = One()
    async with app.run_test(size=(100, 20)) as pilot:
        table = app.query_one(EvidenceTable)
        table.set_columns(None, note="press e for SHAP")
        await pilot.pause()
        empty = table.size.height
        assert "press e for SHAP" in _text(table)
        table.set_columns(None, note="press e for SHAP", detector=True)
        await pilot.pause()
        assert table.size.height == empty + 1  # the detector row
