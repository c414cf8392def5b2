from django.apps import AppConfig


class ExecutionsConfig(AppConfig):
    name = "executions"

    def ready(self) -> None:
        from . import dispatch, inprocess, tasks

        dispatch.connect(embedded=inprocess.schedule_advance, distributed=tasks.send_advance)
