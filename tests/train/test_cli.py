"""The train command's progress bar: over the minutes to the deadline with --max-minutes,
over steps (with an ETA) with --max-steps, counted from a resumed run's own start. Fed
hand-made step logs, so nothing here depends on the clock."""

from __future__ import annotations

from rich.console import Console

from streamaudio.train.cli import training_progress
from streamaudio.train.trainer import StepLog


def _log(step: int, elapsed_s: float) -> StepLog:
    return StepLog(step=step, epoch=0, loss=2.5, text_loss=2.0, control_loss=0.5,
                   control_accuracy=0.5, lr=1e-4, steps_per_s=1.5, elapsed_s=elapsed_s)


def _render(progress: object) -> str:
    console = Console(width=160, record=True)
    console.print(progress.get_renderable())  # type: ignore[attr-defined]
    return console.export_text()


def test_max_minutes_shows_elapsed_and_time_left_to_the_deadline() -> None:
    progress, on_step = training_progress(None, 10.0, Console(width=160))
    on_step(_log(3, 90.0))
    [task] = progress.tasks
    assert (task.completed, task.total) == (90.0, 600.0)  # the bar is over seconds
    text = _render(progress)
    assert "step 3" in text and "0:01:30 elapsed, 0:08:30 left" in text
    assert "loss 2.500" in text
    on_step(_log(400, 615.0))  # the last step may end past the deadline
    assert progress.tasks[0].completed == 600.0 and "0:00:00 left" in _render(progress)


def test_max_steps_counts_this_runs_steps_with_an_eta() -> None:
    progress, on_step = training_progress(4, None, Console(width=160))
    for step in (6, 7):  # a run resumed at step 5
        on_step(_log(step, float(step)))
    [task] = progress.tasks
    assert (task.completed, task.total) == (2, 4)
    text = _render(progress)
    assert "step 7" in text and "2/4" in text and "eta" in text
    assert "elapsed," not in text  # the deadline clock is for --max-minutes alone
    both, on_step = training_progress(4, 10.0, Console(width=160))
    on_step(_log(1, 1.0))
    assert both.tasks[0].total == 4  # both limits: the bar is over steps
