-- Analytics: daily activity per (project, user), daily counters, and daily subscription snapshots.

CREATE TABLE "activity_days" (
    "day" DATE NOT NULL,
    "project" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    CONSTRAINT "activity_days_pkey" PRIMARY KEY ("day", "project", "user_id")
);
CREATE INDEX "activity_days_user_id_day_idx" ON "activity_days"("user_id", "day");
CREATE INDEX "activity_days_project_day_idx" ON "activity_days"("project", "day");

CREATE TABLE "daily_counts" (
    "day" DATE NOT NULL,
    "metric" TEXT NOT NULL,
    "key" TEXT NOT NULL DEFAULT '',
    "count" BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT "daily_counts_pkey" PRIMARY KEY ("day", "metric", "key")
);

CREATE TABLE "subscription_snapshots" (
    "day" DATE NOT NULL,
    "user_id" UUID NOT NULL,
    "plan" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "mrr_cents" INTEGER NOT NULL,
    CONSTRAINT "subscription_snapshots_pkey" PRIMARY KEY ("day", "user_id")
);
CREATE INDEX "subscription_snapshots_day_plan_idx" ON "subscription_snapshots"("day", "plan");
