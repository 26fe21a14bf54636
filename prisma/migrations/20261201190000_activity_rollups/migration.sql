-- Activity rollups: each (user, project)'s latest active day, and each user's latest and
-- second-latest of those, kept by a trigger on activity_days so that every writer of activity
-- (the recorder's flush, a backfill, a test fixture) keeps them exact; backfilled from activity_days.

-- Instances still running the previous release go on writing activity_days meanwhile: this
-- lock holds their inserts until the trigger and the backfill are committed, so none is missed.
LOCK TABLE "activity_days" IN SHARE MODE;

CREATE TABLE "activity_last" (
    "user_id" UUID NOT NULL,
    "project" TEXT NOT NULL,
    "last_day" DATE NOT NULL,
    CONSTRAINT "activity_last_pkey" PRIMARY KEY ("user_id", "project")
);
CREATE INDEX "activity_last_last_day_project_idx" ON "activity_last"("last_day", "project");

CREATE TABLE "activity_users" (
    "user_id" UUID NOT NULL,
    "last_day" DATE NOT NULL,
    "second_day" DATE,
    CONSTRAINT "activity_users_pkey" PRIMARY KEY ("user_id")
);

-- Runs once per INSERT statement on activity_days, over the rows it actually added (`added`: a
-- conflicting row is already in the rollups). Both days only ever grow, but "second_day" is
-- an order statistic over several activity_last rows, which two flushes of one user in two
-- projects write side by side: each, reading in its own snapshot, would miss the other's row
-- (write skew) and leave second_day too low. So each user's writes are serialised on their
-- activity_users row: step 1 locks it (creating it if need be) in user_id order, which cannot
-- deadlock with another flush doing the same, and step 3 runs in a later statement, whose new
-- snapshot (READ COMMITTED, volatile function) sees every earlier flush of these users committed.
CREATE FUNCTION "activity_roll_up"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM added) THEN
        RETURN NULL;
    END IF;
    -- 1. Each user's latest day; the row is locked even where the WHERE skips a no-op update.
    INSERT INTO activity_users (user_id, last_day)
    SELECT user_id, max(day) FROM added GROUP BY user_id ORDER BY user_id
    ON CONFLICT (user_id) DO UPDATE SET last_day = excluded.last_day
    WHERE excluded.last_day > activity_users.last_day;
    -- 2. Each (user, project)'s latest day (a batch may span midnight: max of its days).
    INSERT INTO activity_last (user_id, project, last_day)
    SELECT user_id, project, max(day) FROM added GROUP BY user_id, project
    ON CONFLICT (user_id, project) DO UPDATE SET last_day = excluded.last_day
    WHERE excluded.last_day > activity_last.last_day;
    -- 3. The second-latest of each user's per-project days, recomputed whole (index probes per
    --    user of the batch, never a scan of the tables).
    UPDATE activity_users u SET second_day = s.second_day
    FROM (SELECT DISTINCT user_id FROM added) b, LATERAL (
        SELECT (array_agg(last_day ORDER BY last_day DESC))[2] AS second_day FROM activity_last l WHERE l.user_id = b.user_id) s
    WHERE u.user_id = b.user_id AND u.second_day IS DISTINCT FROM s.second_day;
    RETURN NULL;
END
$$;

CREATE TRIGGER "activity_days_roll_up" AFTER INSERT ON "activity_days"
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION "activity_roll_up"();

-- The backfill.
INSERT INTO "activity_last" (user_id, project, last_day)
SELECT user_id, project, max(day) FROM "activity_days" GROUP BY user_id, project;

INSERT INTO "activity_users" (user_id, last_day, second_day)
SELECT user_id, max(last_day), (array_agg(last_day ORDER BY last_day DESC))[2] FROM "activity_last" GROUP BY user_id;
