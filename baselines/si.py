"""Synaptic intelligence (Zenke et al. 2017) through avalanche-lib's
SynapticIntelligencePlugin: each weight's importance is the path integral of the loss
along the training of the tasks before (the sum of -g * step), over the square of how far
the weight moved in them plus a damping; every later step adds lambda / 2 x the
importance-weighted squared distance to the weights the last task ended on. It keeps no
images.

avalanche clips every importance at 1e-3 (the clipping of Maltoni & Lomonaco's variant,
not in Zenke et al.): on the laptop two-task base every weight's importance exceeds it,
which would make SI a uniform pull towards the old weights. The importances here are not
clipped (docs/deviations.md).

Task 1 is learned before the stream (the base job, 0 epochs in avalanche), so the plugin
would weigh it with nothing: its path integral is the one the base job recorded beside
its checkpoint (fipbench.train.PathIntegral); the later tasks' are avalanche's own."""

import torch
from avalanche.training.plugins import SynapticIntelligencePlugin


class FirstTaskSI(SynapticIntelligencePlugin):
    """avalanche's plugin whose first experience (trained for 0 epochs) takes the recorded
    path of task 1: {"start": {name: flat weights [n]}, "integral": {name: sum of g * step [n]}}.

    avalanche keeps the anchor weights and each step's starting weights as
    param.detach().cpu().flatten(), which on the CPU is a view of the live parameter: the
    anchor would follow the weights (a penalty of 0) and every step's displacement would
    read 0. They are copied here right after avalanche takes them (on a GPU, .cpu()
    already copies, and the copy changes nothing)."""

    def __init__(self, si_lambda: float, damping: float, first_task_path: dict):
        super().__init__(si_lambda=si_lambda, eps=damping)
        self.first_task_path = first_task_path

    def before_training_exp(self, strategy, **kwargs):
        super().before_training_exp(strategy, **kwargs)
        for anchor in self.ewc_data[0].values():
            anchor.data = anchor.data.clone()

    def before_training_iteration(self, strategy, **kwargs):
        super().before_training_iteration(strategy, **kwargs)
        for before in self.syn_data["old_theta"].values():
            before.data = before.data.clone()

    def after_training_exp(self, strategy, **kwargs):
        """avalanche's importance update, with no clipping and c = 1 (lambda weighs the penalty)."""
        if self.first_task_path is not None:  # before the integral turns into importances
            for name, trajectory in self.syn_data["trajectory"].items():
                trajectory.data = self.first_task_path["integral"][name].clone()
                self.ewc_data[0][name].data = self.first_task_path["start"][name].clone()
            self.first_task_path = None
        self.update_ewc_data(strategy.model, self.ewc_data, self.syn_data, float("inf"), self.excluded_parameters,
                             c=1.0, eps=self.eps)


def plugin(settings: dict, memory_per_task: int, tasks: list[dict]) -> FirstTaskSI:
    """settings: {"lambda": penalty weight, "damping": added to each weight's squared
    displacement (Zenke et al.'s xi)}; tasks[0]["path_integral"]: the file of task 1's
    PathIntegral, which the base job saves beside its checkpoint. SI keeps no memory:
    memory_per_task is unused."""
    if "path_integral" not in tasks[0]:
        raise ValueError("synaptic intelligence needs the path integral of task 1's training "
                         "(tasks[0]['path_integral']; the base job saves it beside its checkpoint)")
    return FirstTaskSI(settings["lambda"], settings["damping"], torch.load(tasks[0]["path_integral"]))
