import torch


class NotExportable(torch.nn.Module):
    """Runs in eager mode, but its forward branches on a tensor's value, which export cannot trace."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 4)

    def forward(self, x):
        y = self.fc(x.flatten(1))
        if y.sum() > 0:  # data-dependent control flow
            return y
        return -y


def build():
    return NotExportable()
