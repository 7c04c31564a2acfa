"""test_db.py: the database layer against the real PostgreSQL, through tests/unit/db_cli:
reads sent ahead in the pipeline (db_read_ahead) answer the first identical read of their
transaction, as the database stood when they were sent, and nothing after a rollback."""
import os
import subprocess
import unittest

from harness import stack


class ReadAhead(unittest.TestCase):
    def test_a_read_sent_ahead_answers_once_and_never_across_a_rollback(self):
        s = stack()
        m = s.new_site("db")
        cus = m.customer(name="start")["id"]
        other = m.customer(name="someone else")["id"]
        cli = os.path.abspath(os.path.join(s.bin_dir, "..", "tests", "unit", "db_cli"))
        conninfo = "host=%s port=%d dbname=portald user=postgres" % (
            os.path.join(s.state, "pg", "run"), s.pg_port)
        r = subprocess.run([cli, conninfo, m.site_id, cus, other], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            # Nothing is sent ahead outside a transaction: the read is made.
            "outside: start (1 statement)",
            # Sent before the rename: its answer, with no statement of its own.
            "ahead: before (0 statements)",
            # Taken once: the next read is made, and sees the rename.
            "again: after (1 statement)",
            # Another customer's read is made, not answered by this customer's.
            "other: someone else (1 statement)",
            # Sent again after a rename: the later one answers.
            "sent again: renamed (0 statements)",
            # Read inside a savepoint that was rolled back: dropped, read again.
            "rolled back: after (1 statement)",
            # Read inside a savepoint that was released: still this transaction's.
            "released: after (0 statements)",
            # Not asked for: the second release after it was sent drops it.
            "two releases later: unasked (1 statement)",
            # The transaction ended (rolled back): dropped; the rename is gone too.
            "next transaction: start (1 statement)",
        ])
        # The transactions were all rolled back.
        self.assertEqual(m.get("/customers/" + cus).json["name"], "start")


if __name__ == "__main__":
    unittest.main()
