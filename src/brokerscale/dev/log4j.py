"""The log4j2 configuration of the Java processes brokerscale starts (brokers, controllers, MirrorMaker).

One rolling file per process, capped at 2 x 20 MB, so a long-running local cluster never fills the disk,
and the chatty loggers turned down to WARN.
"""

from __future__ import annotations


def rolling_file_config(log_file: str, quiet: dict[str, str]) -> str:
    """`log_file` may use log4j2 lookups (e.g. `${sys:kafka.logs.dir}/server.log`); `quiet` maps a
    short name to a logger that is logged at WARN only."""
    lines = ["status = error",
             "appender.file.type = RollingFile",
             "appender.file.name = FILE",
             f"appender.file.fileName = {log_file}",
             f"appender.file.filePattern = {log_file}.%i",
             "appender.file.layout.type = PatternLayout",
             "appender.file.layout.pattern = [%d] %p %m (%c)%n",
             "appender.file.policies.type = Policies",
             "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
             "appender.file.policies.size.size = 20MB",
             "appender.file.strategy.type = DefaultRolloverStrategy",
             "appender.file.strategy.max = 2",
             "rootLogger.level = INFO",
             "rootLogger.appenderRef.file.ref = FILE"]
    for short, logger in quiet.items():
        lines += [f"logger.{short}.name = {logger}", f"logger.{short}.level = WARN"]
    return "\n".join(lines) + "\n"
