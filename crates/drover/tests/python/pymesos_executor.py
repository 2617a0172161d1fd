"""A custom executor written with pymesos 0.3.15's MesosExecutorDriver: for each task it is
given it sends TASK_RUNNING, then TASK_FINISHED with a message, and stops once the agent has
acknowledged the last update (or after a deadline). Run by `drover agent` through the
ExecutorInfo command of a task; see pymesos_executor.rs."""

import sys
import threading
import time

from addict import Dict
from pymesos import Executor, MesosExecutorDriver


class Finisher(Executor):
    def __init__(self):
        self.done = threading.Event()

    def registered(self, driver, executor_info, framework_info, agent_info):
        print("executor registered", executor_info.executor_id.value, flush=True)

    def launchTask(self, driver, task):
        def run():
            for state, message in (("TASK_RUNNING", "pymesos executor running"),
                                   ("TASK_FINISHED", "pymesos executor finished")):
                update = Dict()
                update.task_id.value = task.task_id.value
                update.state = state
                update.message = message
                driver.sendStatusUpdate(update)
                time.sleep(0.2)
            self.done.set()
        threading.Thread(target=run, daemon=True).start()

    def killTask(self, driver, task_id):
        update = Dict()
        update.task_id.value = task_id.value
        update.state = "TASK_KILLED"
        driver.sendStatusUpdate(update)
        self.done.set()

    def shutdown(self, driver):
        self.done.set()


def main():
    executor = Finisher()
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
