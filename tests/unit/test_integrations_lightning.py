"""PairDataModule's loader wrapper saves the position of the batch being trained, not of batches fetched ahead."""
import pytest

pytestmark = pytest.mark.slow  # importing lightning takes seconds
pytest.importorskip("lightning")

from lmpairs.integrations.lightning import PairDataModule, ResumableLoader  # noqa: E402


class FakeLoader:
    """Counts batches handed out, as PairLoader's state does; records set_epoch and load_state_dict."""

    def __init__(self) -> None:
        self.handed, self.epochs, self.loaded = 0, [], None

    def __len__(self) -> int:
        return 5

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)

    def __iter__(self):
        for i in range(5):
            self.handed += 1
            yield {"i": i}

    def state_dict(self) -> dict:
        return {"batches": self.handed}

    def load_state_dict(self, state: dict) -> None:
        self.loaded = state


def test_the_saved_position_is_the_trained_batchs_even_when_batches_were_fetched_ahead():
    fake = FakeLoader()
    wrapper = ResumableLoader(fake, PairDataModule(train=None))
    batches = iter(wrapper)
    next(batches), next(batches), next(batches)  # a fetcher two batches ahead of training
    assert wrapper.state_dict() == {"batches": 3}  # nothing trained yet: the live position
    wrapper.mark_trained()
    assert wrapper.state_dict() == {"batches": 1}
    wrapper.mark_trained()
    assert wrapper.state_dict() == {"batches": 2}
    wrapper.load_state_dict({"batches": 2})
    assert fake.loaded == {"batches": 2} and wrapper.state_dict() == {"batches": 2} and len(wrapper) == 5
