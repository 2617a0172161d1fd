"""A custom executor (pymesos 0.3.15's MesosExecutorDriver) that refuses every task it is given
with its own state and reason, as seed 1's guidelines allow executors that validate or
authorize tasks themselves: `reason_executor.py STATE REASON` sends STATE with REASON and a
message naming both, then stops once the agent has had time to acknowledge it. See
seed1_custom_executor_reasons.rs."""

import sys
import threading
import time

from addict import Dict
from pymesos import Executor, MesosExecutorDriver

STATE, REASON = sys.argv[1], sys.argv[2]


class Refuser(Executor):
    def __init__(self):
        self.done = threading.Event()

    def launchTask(self, driver, task):
        update = Dict()
        update.task_id.value = task.task_id.value
        update.state = STATE
        update.reason = REASON
        update.message = "refused by the executor: " + REASON
        driver.sendStatusUpdate(update)
        self.done.set()

    def killTask(self, driver, task_id):
        update = Dict()
        update.task_id.value = task_id.value
        update.state = "TASK_KILLED"
        driver.sendStatusUpdate(update)
        self.done.set()

    def shutdown(self, driver):
        self.done.set()


def main():
    executor = Refuser()
    driver = MesosExecutorDriver(executor, use_addict=True)
    driver.start()
    executor.done.wait(120)
    # Let the agent acknowledge the terminal update before going away.
    time.sleep(2)
    driver.stop()
    driver.join()
    sys.exit(0)


if __name__ == "__main__":
    main()
