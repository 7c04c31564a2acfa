"""test_migrations.py: every migration in sql/ is additive ("expand"), so the release before
it keeps working against the migrated schema during a rolling upgrade; only a migration
marked "-- portald: contract" on a line of its own may remove or narrow anything. The rule
is written down in docs/operations.md ("Migrations"). Runs without a stack:
    python3 tests/integration/test_migrations.py"""
import os
import re
import unittest

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sql")
CONTRACT_MARK = re.compile(r"(?m)^--\s*portald:\s*contract\b")
IDENT = r'(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*))?'


def strip(sql, keep_comments=False):
    """SQL without comments (or with them as written) and with string, identifier-quoted
    and dollar-quoted bodies blanked, so keywords inside them do not count and an
    apostrophe in a comment opens no string."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            if keep_comments:
                out.append(sql[i:j].replace(";", ","))   # no statement ends in one
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j].replace(";", ",") if keep_comments else " ")
            i = j
        elif c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'" and sql.startswith("''", j):
                    j += 2
                elif sql[j] == "'":
                    break
                else:
                    j += 1
            out.append("''")
            i = j + 1
        elif c == "$":
            m = re.match(r"\$([A-Za-z_]*)\$", sql[i:])
            if m:
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                out.append("$$$$")
                i = n if j < 0 else j + len(tag)
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


COMPATIBLE_MARK = re.compile(r"(?m)^--\s*portald:\s*compatible:\s*\S")


def statements(sql):
    """Statements, except one whose own comment says "-- portald: compatible: <why>" (a
    change the checker cannot see is safe, such as widening a CHECK or a NOT NULL with a
    default; the reason is written where a reviewer sees it)."""
    kept = []
    for raw in strip(sql, keep_comments=True).split(";"):
        if not COMPATIBLE_MARK.search(raw):
            kept.append(raw)
    for s in strip(";".join(kept)).split(";"):
        s = " ".join(s.split()).upper()
        if s:
            yield s


def split_top(s, sep=","):
    """Splits at sep outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def unquote(name):
    return name.replace('"', "").split(".")[-1].lower()


def violations(sql):
    """What keeps sql from being an expand migration: a list of (statement, reason)."""
    found = []
    created = set()     # tables made in this file: anything goes on them
    for st in statements(sql):
        m = re.match(r"CREATE (?:UNLOGGED )?TABLE (?:IF NOT EXISTS )?(%s)" % IDENT, st)
        if m:
            created.add(unquote(m.group(1)))
            continue
        m = re.match(r"CREATE UNIQUE INDEX .*? ON (?:ONLY )?(%s)" % IDENT, st)
        if m and unquote(m.group(1)) not in created:
            found.append((st, "a unique index on an existing table refuses rows the "
                              "previous release may write"))
            continue
        if re.match(r"(DROP|TRUNCATE|DELETE)\b", st):
            found.append((st, "removes something the previous release may use"))
            continue
        if re.match(r"ALTER\b", st) and re.search(r"\bRENAME\b", st):
            found.append((st, "a rename breaks the previous release's statements"))
            continue
        m = re.match(r"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(%s) (.*)$" % IDENT, st)
        if not m:
            continue
        table, actions = unquote(m.group(1)), split_top(m.group(2))
        if table in created:
            continue
        for a in actions:
            reason = action_violation(a)
            if reason:
                found.append((st, reason))
    return found


def action_violation(a):
    """Why one ALTER TABLE action on an existing table is not additive, or None."""
    if a.startswith("RENAME"):
        return "a rename breaks the previous release's statements"
    if a.startswith("DROP"):
        return "removes something the previous release may use"
    if re.match(r"ADD (CONSTRAINT|PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY|EXCLUDE)\b", a):
        return "a new constraint on existing rows may refuse what the previous release writes"
    m = re.match(r"ADD (?:COLUMN )?(?:IF NOT EXISTS )?(%s) (.*)$" % IDENT, a)
    if m:
        rest = m.group(2)
        serial = re.match(r"(SMALL|BIG)?SERIAL\b", rest)
        if re.search(r"\bNOT NULL\b", rest) and not re.search(r"\bDEFAULT\b", rest) \
                and not serial and not re.search(r"\bGENERATED\b", rest):
            return "NOT NULL without a DEFAULT: the previous release's INSERTs would fail"
        return None
    m = re.match(r"ALTER (?:COLUMN )?(%s) (.*)$" % IDENT, a)
    if m:
        what = m.group(2)
        if re.match(r"(SET DATA )?TYPE\b", what):
            return "a type change breaks the previous release's reads and writes"
        if what.startswith("SET NOT NULL"):
            return "SET NOT NULL refuses the NULLs the previous release may write"
        if what.startswith("DROP DEFAULT"):
            return "the previous release's INSERTs may rely on the default"
        if what.startswith("DROP EXPRESSION") or what.startswith("DROP IDENTITY"):
            return "removes something the previous release may use"
        return None     # SET DEFAULT, DROP NOT NULL, SET STATISTICS, SET STORAGE ...
    if a.startswith("VALIDATE CONSTRAINT") or a.startswith("SET (") or \
            a.startswith("ENABLE") or a.startswith("CLUSTER") or a.startswith("OWNER"):
        return None
    return "not known to be additive: %s" % a.split(" ")[0]


def migrations():
    names = sorted(f for f in os.listdir(SQL_DIR) if re.match(r"\d+_.*\.sql$", f))
    out = []
    for n in names:
        with open(os.path.join(SQL_DIR, n)) as f:
            out.append((n, f.read()))
    return out


class MigrationsAreAdditive(unittest.TestCase):
    def test_every_migration_is_additive_unless_marked_contract(self):
        ms = migrations()
        self.assertGreater(len(ms), 0)
        for name, text in ms:
            if CONTRACT_MARK.search(text):
                continue
            with self.subTest(migration=name):
                self.assertEqual(violations(text), [],
                                 "%s is not additive; see docs/operations.md, Migrations" % name)

    def test_migration_numbers_are_unique_and_files_are_listed_in_the_build(self):
        ms = migrations()
        numbers = [int(n.split("_", 1)[0]) for n, _ in ms]
        self.assertEqual(len(numbers), len(set(numbers)), numbers)
        with open(os.path.join(SQL_DIR, "..", "Makefile.am")) as f:
            makefile = f.read()
        for n, _ in ms:
            self.assertIn("sql/" + n, makefile, "%s is not compiled in (MIGRATIONS)" % n)


class TheRuleItself(unittest.TestCase):
    """The checker catches what it must and lets through what it may."""

    def assertRefused(self, sql):
        self.assertNotEqual(violations(sql), [], sql)

    def assertAllowed(self, sql):
        self.assertEqual(violations(sql), [], sql)

    def test_refused(self):
        for sql in [
            "DROP TABLE customers;",
            "DROP INDEX customers_email;",
            "ALTER TABLE customers DROP COLUMN phone;",
            "ALTER TABLE customers RENAME COLUMN phone TO tel;",
            "ALTER TABLE customers RENAME TO clients;",
            "ALTER TABLE customers ALTER COLUMN phone TYPE varchar(20);",
            "ALTER TABLE customers ALTER phone SET DATA TYPE varchar(20);",
            "ALTER TABLE customers ALTER COLUMN email SET NOT NULL;",
            "ALTER TABLE customers ALTER COLUMN email DROP DEFAULT;",
            "ALTER TABLE customers ADD COLUMN tier text NOT NULL;",
            "ALTER TABLE customers ADD tier text NOT NULL CHECK (tier <> '');",
            "ALTER TABLE plans ADD CONSTRAINT plans_amount CHECK (amount < 100);",
            "ALTER TABLE plans ADD UNIQUE (site_id, name);",
            "ALTER TABLE plans ADD COLUMN note text, DROP COLUMN trial_days;",
            "CREATE UNIQUE INDEX plans_name ON plans (site_id, name);",
            "DELETE FROM events WHERE created_at < 0;",
            "TRUNCATE idempotency_keys;",
            "ALTER INDEX customers_email RENAME TO customers_mail;",
            # An apostrophe in a comment opens no string that hides what follows.
            "-- the claim's index\nDROP INDEX a;\n-- the planner's choice\nCREATE INDEX b "
            "ON c (d);",
            "-- it's marked\n-- portald: compatible: one statement only\nDROP INDEX a;\n"
            "DROP INDEX b; -- isn't it\n",
        ]:
            self.assertRefused(sql)

    def test_allowed(self):
        for sql in [
            "CREATE TABLE t (site_id text NOT NULL, id text NOT NULL, PRIMARY KEY (site_id, id));"
            "ALTER TABLE t ADD CONSTRAINT c CHECK (id <> ''); CREATE UNIQUE INDEX u ON t (id);",
            "ALTER TABLE customers ADD COLUMN tier text;",
            "ALTER TABLE customers ADD COLUMN tier text NOT NULL DEFAULT 'basic' "
            "CHECK (tier IN ('basic', 'pro'));",
            "ALTER TABLE payment_attempts ADD COLUMN seq bigserial;",
            "ALTER TABLE customers ALTER COLUMN email DROP NOT NULL;",
            "ALTER TABLE customers ALTER COLUMN email SET DEFAULT '';",
            "CREATE INDEX customers_tier ON customers (site_id, tier);",
            "UPDATE customers SET tier = 'basic' WHERE tier IS NULL;",
            "INSERT INTO site_counters (site_id) SELECT id FROM sites;",
            "-- DROP TABLE customers; in a comment\nCOMMENT ON TABLE customers IS 'drop table x';",
            "CREATE FUNCTION f() RETURNS int AS $$ DROP TABLE x; $$ LANGUAGE sql;",
            "-- portald: compatible: the reason's first part; and its second\nDROP INDEX a;",
        ]:
            self.assertAllowed(sql)

    def test_a_marked_contract_migration_is_exempt(self):
        self.assertTrue(CONTRACT_MARK.search("-- 009_x.sql: drop the old column\n"
                                             "-- portald: contract\nALTER TABLE t DROP COLUMN c;"))
        self.assertFalse(CONTRACT_MARK.search("-- not a portald: contract mark, mid-line\n"))


if __name__ == "__main__":
    unittest.main()
