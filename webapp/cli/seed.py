"""Example tasks that ``make run`` puts into an empty database."""

EXAMPLE_TASKS = [
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
        "config": {"command": "for i in 1 2 3 4 5; do echo \"fetching feed $i/5\"; sleep 1; done; echo done"},
        "description": "Takes about five seconds, printing as it goes.",
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
