"""PostgreSQL functions for the work queue's common claim and submit (see labeling/services/queue_sql.py).

Each does, in one round trip, what `labeling.services.queue` does for the ordinary case, and
answers 'fallback' without changing anything for every other case (the Python path then decides
and words the outcome). SQLite has no such functions; there the Python path is the only one.
"""

from django.db import migrations

CLAIM_FUNCTION = r"""
CREATE FUNCTION quorum_claim_annotate_v1(
    p_project bigint, p_user bigint, p_now timestamptz, p_prefetch boolean, p_statuses text[],
    p_draw double precision,
    OUT o_outcome text, OUT o_lease_id bigint, OUT o_slot_id bigint, OUT o_task_id bigint,
    OUT o_expires_at timestamptz, OUT o_data jsonb, OUT o_pre_annotation jsonb,
    OUT o_name text, OUT o_task_type text, OUT o_labels jsonb, OUT o_max_labels smallint,
    OUT o_allow_overlapping_spans boolean, OUT o_lease_seconds integer,
    OUT o_instructions_version integer, OUT o_schema_stamp timestamptz,
    OUT o_instructions_html text
)
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_max_leases integer;
    v_skill_id bigint;
    v_level integer;
    v_state_id bigint;
    v_suspended boolean;
    v_suspended_until timestamptz;
    v_retraining boolean;
    v_held integer;
    v_gold_live boolean;
    v_gold_warmup integer;
    v_gold_rates jsonb;
    v_claimed integer;
    v_gold_override double precision;
    v_profile_status text;
    v_trusted boolean;
BEGIN
    -- A claim need not wait for the disk: if the server crashes before its commit is flushed
    -- (a fraction of a second), the lease is gone and the person is told so when they submit.
    -- Submits wait, as ever.
    SET LOCAL synchronous_commit TO OFF;
    o_outcome := 'fallback';
    SELECT status, max_leases_per_person, required_skill_id, required_level, name, task_type,
           labels, max_labels, allow_overlapping_spans, lease_seconds, instructions_version,
           updated_at, gold_warmup, gold_rates
    INTO v_status, v_max_leases, v_skill_id, v_level, o_name, o_task_type,
         o_labels, o_max_labels, o_allow_overlapping_spans, o_lease_seconds,
         o_instructions_version, o_schema_stamp, v_gold_warmup, v_gold_rates
    FROM labeling_project WHERE id = p_project;
    IF NOT FOUND OR v_status <> 'active' THEN
        RETURN;
    END IF;
    v_gold_live := EXISTS (
        SELECT 1 FROM labeling_task t JOIN labeling_goldanswer g ON g.task_id = t.id
        WHERE t.project_id = p_project AND t.is_gold AND NOT g.is_retired
    );
    -- Eligibility: a working annotator profile and the project's skill at its level.
    IF NOT EXISTS (
        SELECT 1 FROM workforce_annotatorprofile
        WHERE user_id = p_user AND status = ANY (p_statuses)
    ) OR (
        v_skill_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM workforce_skilllevel
            WHERE user_id = p_user AND skill_id = v_skill_id AND level >= v_level
        )
    ) THEN
        RETURN;
    END IF;
    -- The person's state in the project is the claim's per-person lock.
    SELECT id, is_suspended, suspended_until, needs_retraining, tasks_claimed, gold_rate_override
    INTO v_state_id, v_suspended, v_suspended_until, v_retraining, v_claimed, v_gold_override
    FROM labeling_workerprojectstate
    WHERE user_id = p_user AND project_id = p_project FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO labeling_workerprojectstate (
            user_id, project_id, tasks_claimed, gold_claimed, gold_rate_override, is_suspended,
            suspended_until, needs_retraining, updated_at
        ) VALUES (p_user, p_project, 0, 0, NULL, false, NULL, false, p_now)
        ON CONFLICT (user_id, project_id) DO NOTHING;
        SELECT id, is_suspended, suspended_until, needs_retraining, tasks_claimed,
               gold_rate_override
        INTO v_state_id, v_suspended, v_suspended_until, v_retraining, v_claimed,
             v_gold_override
        FROM labeling_workerprojectstate
        WHERE user_id = p_user AND project_id = p_project FOR UPDATE;
    END IF;
    IF (v_suspended AND (v_suspended_until IS NULL OR v_suspended_until > p_now))
       OR v_retraining THEN
        RETURN;
    END IF;
    SELECT count(*) INTO v_held FROM labeling_lease
    WHERE user_id = p_user AND project_id = p_project AND state = 'active' AND expires_at > p_now;
    IF v_held >= v_max_leases + (CASE WHEN p_prefetch THEN 1 ELSE 0 END) THEN
        RETURN;
    END IF;
    -- The gold mix, as labeling.services.gold.gold_due decides it with the caller's draw: when
    -- gold is due the Python path serves it (with the same draw, so it decides the same).
    IF v_gold_live THEN
        IF v_claimed < v_gold_warmup THEN
            RETURN;
        END IF;
        SELECT status, is_trusted INTO v_profile_status, v_trusted
        FROM workforce_annotatorprofile WHERE user_id = p_user;
        IF p_draw < COALESCE(
            v_gold_override,
            (v_gold_rates ->> (CASE
                WHEN v_profile_status = 'active' AND v_trusted THEN 'trusted'
                WHEN v_profile_status = 'active' THEN 'regular'
                ELSE 'probation' END))::double precision,
            0
        ) THEN
            RETURN;
        END IF;
    END IF;
    SELECT s.id, s.task_id INTO o_slot_id, o_task_id
    FROM labeling_workslot s
    WHERE s.project_id = p_project AND s.kind = 'annotate' AND s.level = 0 AND s.state = 'open'
      AND NOT EXISTS (
          SELECT 1 FROM labeling_taskparticipation tp
          WHERE tp.task_id = s.task_id AND tp.user_id = p_user
      )
    ORDER BY s.priority DESC, s.order_key
    LIMIT 1
    FOR UPDATE OF s SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    o_expires_at := p_now + make_interval(secs => o_lease_seconds);
    UPDATE labeling_workslot SET state = 'leased', lease_expires_at = o_expires_at
    WHERE id = o_slot_id;
    INSERT INTO labeling_taskparticipation (task_id, user_id, created_at)
    VALUES (o_task_id, p_user, p_now);
    UPDATE labeling_workerprojectstate
    SET tasks_claimed = tasks_claimed + 1, updated_at = p_now
    WHERE id = v_state_id;
    INSERT INTO labeling_lease (
        slot_id, task_id, project_id, user_id, state, claimed_at, expires_at, last_seen_at,
        active_seconds, ended_at, skip_reason
    ) VALUES (
        o_slot_id, o_task_id, p_project, p_user, 'active', p_now, o_expires_at, p_now, 0, NULL, ''
    ) RETURNING id INTO o_lease_id;
    SELECT data, pre_annotation INTO o_data, o_pre_annotation
    FROM labeling_task WHERE id = o_task_id;
    IF o_instructions_version > 0 THEN
        SELECT body_html INTO o_instructions_html FROM labeling_instructionversion
        WHERE project_id = p_project AND version = o_instructions_version;
    END IF;
    o_outcome := 'leased';
END;
$$;
"""

SUBMIT_FUNCTION = r"""
CREATE FUNCTION quorum_submit_annotate_v1(
    p_lease bigint, p_user bigint, p_now timestamptz, p_result jsonb, p_schema_stamp timestamptz,
    OUT o_outcome text, OUT o_annotation_id bigint, OUT o_task_status text, OUT o_status text,
    OUT o_active_seconds integer
)
LANGUAGE plpgsql AS $$
DECLARE
    v_slot_id bigint;
    v_task_id bigint;
    v_project_id bigint;
    v_state text;
    v_expires timestamptz;
    v_last_seen timestamptz;
    v_active integer;
    v_kind text;
    v_pipeline text;
    v_review_levels jsonb;
    v_overlap integer;
    v_idle_cap integer;
    v_instructions integer;
    v_customer_id bigint;
    v_stamp timestamptz;
    v_count integer;
    v_completes boolean;
    v_final jsonb;
BEGIN
    o_outcome := 'fallback';
    SELECT l.slot_id, l.task_id, l.project_id, l.state, l.expires_at, l.last_seen_at,
           l.active_seconds, s.kind
    INTO v_slot_id, v_task_id, v_project_id, v_state, v_expires, v_last_seen, v_active, v_kind
    FROM labeling_lease l JOIN labeling_workslot s ON s.id = l.slot_id
    WHERE l.id = p_lease AND l.user_id = p_user
    FOR UPDATE OF l;
    IF NOT FOUND OR v_state <> 'active' OR v_expires <= p_now OR v_kind <> 'annotate' THEN
        RETURN;  -- not live (the Python path says why), or review, rework or gold work
    END IF;
    SELECT pipeline, review_levels, overlap, idle_cap_seconds, instructions_version, customer_id,
           updated_at
    INTO v_pipeline, v_review_levels, v_overlap, v_idle_cap, v_instructions, v_customer_id,
         v_stamp
    FROM labeling_project WHERE id = v_project_id;
    IF v_stamp IS DISTINCT FROM p_schema_stamp THEN
        RETURN;  -- the project changed since the result was checked: the Python path checks again
    END IF;
    SELECT status, annotations_count INTO o_task_status, v_count
    FROM labeling_task WHERE id = v_task_id FOR UPDATE;
    v_final := NULL;
    IF v_pipeline = 'standard'
       AND v_review_levels IN ('[]'::jsonb, '{}'::jsonb, 'null'::jsonb) THEN
        o_status := 'accepted';
        v_completes := o_task_status <> 'completed';
        v_final := p_result;
    ELSIF v_pipeline = 'collection' THEN
        o_status := 'accepted';
        v_completes := o_task_status <> 'completed' AND v_count + 1 >= v_overlap;
    ELSIF v_pipeline = 'consensus' AND v_count + 1 < v_overlap THEN
        o_status := 'submitted';
        v_completes := false;
    ELSE
        RETURN;  -- aggregation or review routing: the Python path
    END IF;
    IF v_completes AND EXISTS (
        SELECT 1 FROM labeling_webhookendpoint WHERE customer_id = v_customer_id AND is_active
    ) THEN
        RETURN;  -- the completion is announced to webhooks: the Python path
    END IF;
    o_active_seconds := v_active + floor(LEAST(
        GREATEST(extract(epoch FROM (p_now - v_last_seen)), 0), v_idle_cap
    ))::integer;
    INSERT INTO labeling_annotation (
        task_id, project_id, author_id, lease_id, revision, corrects_id, result, status,
        instructions_version, active_seconds, submitted_at, agreement
    ) VALUES (
        v_task_id, v_project_id, p_user, p_lease, 1, NULL, p_result, o_status,
        NULLIF(v_instructions, 0), o_active_seconds, p_now, NULL
    ) RETURNING id INTO o_annotation_id;
    UPDATE labeling_lease
    SET state = 'submitted', ended_at = p_now, active_seconds = o_active_seconds,
        last_seen_at = p_now
    WHERE id = p_lease;
    UPDATE labeling_workslot SET state = 'done', lease_expires_at = NULL WHERE id = v_slot_id;
    IF v_completes THEN
        UPDATE labeling_task
        SET annotations_count = annotations_count + 1, status = 'completed',
            completed_at = p_now, result = v_final, agreement = NULL, is_tie = false,
            confidence = NULL
        WHERE id = v_task_id;
        o_task_status := 'completed';
    ELSE
        UPDATE labeling_task SET annotations_count = annotations_count + 1 WHERE id = v_task_id;
    END IF;
    -- The person moves on to a task held in reserve: its active time starts now.
    UPDATE labeling_lease SET last_seen_at = p_now
    WHERE user_id = p_user AND project_id = v_project_id AND state = 'active' AND id <> p_lease;
    -- The project row is every submit's hot spot: update it last, just before the commit.
    UPDATE labeling_project
    SET annotations_total = annotations_total + 1,
        tasks_completed = tasks_completed + (CASE WHEN v_completes THEN 1 ELSE 0 END)
    WHERE id = v_project_id;
    o_outcome := 'submitted';
END;
$$;
"""

DROP = [
    "DROP FUNCTION IF EXISTS quorum_claim_annotate_v1("
    "bigint, bigint, timestamptz, boolean, text[], double precision);",
    "DROP FUNCTION IF EXISTS quorum_submit_annotate_v1("
    "bigint, bigint, timestamptz, jsonb, timestamptz);",
]


def create_functions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(CLAIM_FUNCTION, None)
    schema_editor.execute(SUBMIT_FUNCTION, None)


def drop_functions(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in DROP:
        schema_editor.execute(statement, None)


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0007_quality_rules"),
        ("workforce", "0004_profile_is_trusted"),
    ]

    operations = [migrations.RunPython(create_functions, drop_functions)]
