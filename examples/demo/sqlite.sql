-- Demo data for the projects and meetings plugins (the tables a Django app would have), for two
-- owners: alice and bob. Run once into the embedded database (database.seed in config.yaml).
-- Owned tables carry owner_id; composite keys (owner_id, id) keep references within one owner.

CREATE TABLE currencies (code TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE customers (
  id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL, country TEXT NOT NULL,
  UNIQUE (owner_id, id)
);
CREATE TABLE projects (
  id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, customer_id INTEGER NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, budget REAL NOT NULL, currency TEXT NOT NULL REFERENCES currencies (code), created_at TEXT NOT NULL,
  UNIQUE (owner_id, id), FOREIGN KEY (owner_id, customer_id) REFERENCES customers (owner_id, id)
);
CREATE INDEX projects_owner ON projects (owner_id, customer_id);
CREATE TABLE meetings (
  id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, project_id INTEGER NOT NULL, title TEXT NOT NULL,
  started_at TEXT NOT NULL, duration_minutes INTEGER NOT NULL,
  UNIQUE (owner_id, id), FOREIGN KEY (owner_id, project_id) REFERENCES projects (owner_id, id)
);
CREATE INDEX meetings_owner ON meetings (owner_id, project_id);
CREATE TABLE engagement_frames (
  id INTEGER PRIMARY KEY, owner_id TEXT NOT NULL, meeting_id INTEGER NOT NULL, at_second INTEGER NOT NULL,
  participant TEXT NOT NULL, attention REAL NOT NULL, speaking INTEGER NOT NULL, sentiment REAL NOT NULL,
  FOREIGN KEY (owner_id, meeting_id) REFERENCES meetings (owner_id, id)
);
CREATE INDEX engagement_frames_meeting ON engagement_frames (owner_id, meeting_id, at_second);

INSERT INTO currencies (code, name) VALUES ('EUR', 'Euro'), ('USD', 'US dollar'), ('GBP', 'Pound sterling');

INSERT INTO customers (id, owner_id, name, country) VALUES
  (1, 'alice', 'Acme Analytics', 'DE'), (2, 'alice', 'Globex Retail', 'US'), (3, 'alice', 'Initech', 'GB'),
  (4, 'bob', 'Umbrella Health', 'US'), (5, 'bob', 'Stark Logistics', 'FR');

-- 32 projects for alice (ids 1-32), 24 for bob (ids 33-56).
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 56)
INSERT INTO projects (id, owner_id, customer_id, name, status, budget, currency, created_at)
SELECT i,
       CASE WHEN i <= 32 THEN 'alice' ELSE 'bob' END,
       CASE WHEN i <= 32 THEN 1 + (i % 3) ELSE 4 + (i % 2) END,
       CASE WHEN i <= 32 THEN 'Alice project ' || i ELSE 'Bob project ' || (i - 32) END,
       CASE i % 4 WHEN 0 THEN 'done' WHEN 1 THEN 'active' WHEN 2 THEN 'active' ELSE 'on hold' END,
       10000 + (i * 7919) % 90000,
       CASE i % 3 WHEN 0 THEN 'EUR' WHEN 1 THEN 'USD' ELSE 'GBP' END,
       date('2026-01-01', '+' || (i * 5) || ' days')
FROM n;

-- 2 meetings per project: 112 meetings.
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 112)
INSERT INTO meetings (id, owner_id, project_id, title, started_at, duration_minutes)
SELECT i, p.owner_id, p.id,
       CASE i % 2 WHEN 0 THEN 'Review of ' ELSE 'Kick-off of ' END || p.name,
       datetime(p.created_at, '+' || ((1 - i % 2) * 14) || ' days', '+10 hours'),
       30 + (i % 4) * 15
FROM n JOIN projects p ON p.id = (i + 1) / 2;

-- One frame every 20 seconds per participant (3 participants): 270 frames a 30-minute meeting,
-- about 53,000 frames in all.
WITH RECURSIVE s(second) AS (SELECT 0 UNION ALL SELECT second + 20 FROM s WHERE second < 5380),
     who(participant) AS (VALUES ('host'), ('guest-1'), ('guest-2'))
INSERT INTO engagement_frames (owner_id, meeting_id, at_second, participant, attention, speaking, sentiment)
SELECT m.owner_id, m.id, s.second, who.participant,
       round(0.35 + ((m.id * 31 + s.second * 7 + length(who.participant) * 13) % 60) / 100.0, 2),
       CASE WHEN ((s.second / 10) + length(who.participant)) % 3 = 0 THEN 1 ELSE 0 END,
       round((((m.id * 17 + s.second * 3 + length(who.participant)) % 200) - 100) / 100.0, 2)
FROM meetings m JOIN s ON s.second < m.duration_minutes * 60 CROSS JOIN who;
