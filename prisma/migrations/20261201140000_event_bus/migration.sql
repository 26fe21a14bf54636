-- The event bus: the events table becomes the append-only audit log of every source (the hub is
-- "nexus", projects are their client ids), webhook endpoints per project, and deliveries, which
-- are both the record operators read and replay and the durable queue the delivery workers
-- claim from (see src/events/deliveries.ts).

-- Events ---------------------------------------------------------------------------------------
ALTER TABLE "events"
  ADD COLUMN "source" TEXT NOT NULL DEFAULT 'nexus',
  ADD COLUMN "sequence" BIGINT,
  ADD COLUMN "occurred_at" TIMESTAMPTZ(3),
  ADD COLUMN "actor" JSONB,
  ADD COLUMN "idempotency_key" TEXT,
  ADD COLUMN "depth" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "caused_by" UUID;

-- One sequence per source (events_seq_<source>, created on a source's first event): a
-- sequence never serialises writers, unlike a counter row.
CREATE SEQUENCE IF NOT EXISTS "events_seq_nexus";
UPDATE "events" SET "sequence" = s.n, "occurred_at" = s.created_at AT TIME ZONE 'UTC'
  FROM (SELECT id, created_at, nextval('"events_seq_nexus"') AS n FROM (SELECT id, created_at FROM "events" ORDER BY created_at, id) o) s
  WHERE "events".id = s.id;
-- The store always names the sequence; the default covers rows written for the hub by Prisma.
ALTER TABLE "events" ALTER COLUMN "sequence" SET NOT NULL,
  ALTER COLUMN "sequence" SET DEFAULT nextval('"events_seq_nexus"'),
  ALTER COLUMN "occurred_at" SET NOT NULL,
  ALTER COLUMN "occurred_at" SET DEFAULT CURRENT_TIMESTAMP;

-- A repeated idempotency key from one source is one event (NULL keys never collide).
CREATE UNIQUE INDEX "events_source_idempotency_key_key" ON "events"("source", "idempotency_key");
CREATE INDEX "events_source_sequence_idx" ON "events"("source", "sequence");
CREATE INDEX "events_created_at_idx" ON "events"("created_at");

-- Webhook endpoints ----------------------------------------------------------------------------
CREATE TABLE "webhook_endpoints" (
  "id" UUID NOT NULL DEFAULT gen_random_uuid(),
  -- NULL: an administrators' endpoint, which may receive every event.
  "project" TEXT,
  "url" TEXT NOT NULL,
  "event_types" TEXT[] NOT NULL,
  "description" TEXT,
  "secret_sealed" TEXT NOT NULL,
  "previous_secret_sealed" TEXT,
  "previous_secret_until" TIMESTAMPTZ(3),
  "enabled" BOOLEAN NOT NULL DEFAULT true,
  "disabled_reason" TEXT,
  -- Set at the first failure after a success: failing for WEBHOOK_DISABLE_AFTER disables it.
  "failing_since" TIMESTAMPTZ(3),
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "webhook_endpoints_project_fkey" FOREIGN KEY ("project") REFERENCES "oauth_clients"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "webhook_endpoints_project_idx" ON "webhook_endpoints"("project");

-- Deliveries: one per (event, endpoint) or (event, automation rule) -------------------------------
CREATE TABLE "event_deliveries" (
  "id" UUID NOT NULL DEFAULT gen_random_uuid(),
  "event_id" UUID NOT NULL,
  "endpoint_id" UUID,
  "rule" TEXT,
  -- pending (due at next_attempt_at), delivered, failed (schedule exhausted or endpoint disabled)
  "status" TEXT NOT NULL DEFAULT 'pending',
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  -- A worker's claim: until then no other worker takes it; a killed worker's claim simply lapses.
  "locked_until" TIMESTAMPTZ(3),
  "last_status" INTEGER,
  "last_error" TEXT,
  "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "completed_at" TIMESTAMPTZ(3),
  CONSTRAINT "event_deliveries_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "event_deliveries_target_check" CHECK (("endpoint_id" IS NULL) <> ("rule" IS NULL)),
  CONSTRAINT "event_deliveries_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE,
  CONSTRAINT "event_deliveries_endpoint_id_fkey" FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE
);
CREATE INDEX "event_deliveries_due_idx" ON "event_deliveries"("next_attempt_at") WHERE "status" = 'pending';
CREATE INDEX "event_deliveries_endpoint_id_created_at_idx" ON "event_deliveries"("endpoint_id", "created_at");
CREATE INDEX "event_deliveries_event_id_idx" ON "event_deliveries"("event_id");

CREATE TABLE "event_delivery_attempts" (
  "id" BIGSERIAL NOT NULL,
  "delivery_id" UUID NOT NULL,
  "attempted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "status" INTEGER,
  "latency_ms" INTEGER,
  "response" TEXT,
  "error" TEXT,
  CONSTRAINT "event_delivery_attempts_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "event_delivery_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "event_deliveries"("id") ON DELETE CASCADE
);
CREATE INDEX "event_delivery_attempts_delivery_id_idx" ON "event_delivery_attempts"("delivery_id");
