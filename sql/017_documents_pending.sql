-- 017_documents_pending.sql: documents_claim (016) replaces documents_pending.
-- portald: compatible: every statement that read documents_pending (the claim and the
-- pending count) has the predicate of documents_claim, in this release and the previous.
DROP INDEX documents_pending;
