"""Example tasks that ``make run`` puts into an empty database (``db upgrade --seed``).

A newcomer should see the product move within the first minute: "Heartbeat" fires
every minute on its own (the scheduler runs it at the next minute's start), "Batch job
with progress" shows a progress bar when run, the others show output, a failure and a
Python job. tests/browser/test_first_run.py seeds like this and watches the fire."""

EXAMPLE_TASKS = [
    {
        "name": "Heartbeat (every minute)",
        "kind": "shell",
        "config": {"command": "echo \"heartbeat at $(date -u +%H:%M:%S) UTC\"; df -h . | tail -n 1"},
        "description": "Fires on its own at the start of every minute: the scheduler at work. "
                       "Disable it once you have seen enough.",
        "schedule": {"type": "cron", "expr": "* * * * *"},
        "timeout": 30,
    },
    {
        "name": "Batch job with progress",
        "kind": "python",
        "config": {"callable": "worker.examples:process_batch", "kwargs": {"items": 20, "delay": 0.5}},
        "description": "About ten seconds; reports its progress as it goes (Run Now, then watch the bar).",
        "timeout": 120,
    },
    {
        "name": "Disk usage report",
        "kind": "shell",
        "config": {"command": "df -h ."},
        "description": "Free space on the volume Taskpulse runs from.",
        "timeout": 30,
    },
    {
        "name": "Vulnerability database update (simulated)",
        "kind": "shell",
        "config": {"command": "for i in 1 2 3 4 5; do echo \"::progress $((i * 20)) feed $i of 5\"; "
                              "echo \"fetching feed $i/5\"; sleep 1; done; echo done"},
        "description": "Takes about five seconds, printing as it goes (a shell job's progress: "
                       "::progress lines).",
        "timeout": 60,
    },
    {
        "name": "Failing command",
        "kind": "shell",
        "config": {"command": "echo 'checking backup target' && ls /no/such/backup/dir"},
        "description": "Always fails, to show how a failure looks.",
        "timeout": 30,
    },
    {
        "name": "Python example: count primes",
        "kind": "python",
        "config": {"callable": "worker.examples:count_primes", "kwargs": {"limit": 20000}},
        "description": "A registered Python job.",
        "timeout": 60,
    },
]
