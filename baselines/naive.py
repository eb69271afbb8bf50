"""Naive fine-tuning: plain SGD on each new task's cross-entropy, nothing kept of the
tasks left (the forgetting every continual-learning method is measured against)."""

from fipbench.stepwise import StepMethod, TaskStart
from fipbench.train import sgd_update, supervised_loss


class Naive(StepMethod):
    keeps_memory = False

    def start_task(self, task: TaskStart):
        return supervised_loss(task.stream), sgd_update(task.optimizer)


METHOD = Naive()
