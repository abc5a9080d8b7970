package store

import (
	"context"
	"time"
)

// learnedMigration is the table of the memory figures admission learned
// from finished tasks (admission.Fitter's observations), one opaque state
// per model and device, so that a restart does not forget them.
const learnedMigration = `
CREATE TABLE lector_learned (
	model      TEXT NOT NULL,
	device     TEXT NOT NULL,
	state      BLOB NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (model, device)
);`

// learnedMigrationPostgres is learnedMigration's PostgreSQL twin.
const learnedMigrationPostgres = `
CREATE TABLE lector_learned (
	model      TEXT NOT NULL,
	device     TEXT NOT NULL,
	state      BYTEA NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (model, device)
);`

// SaveLearned replaces the learned state of model on device.
func (s *SQLite) SaveLearned(ctx context.Context, model, device string, state []byte) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO lector_learned (model, device, state, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (model, device) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`, model, device, state, time.Now().UnixNano())
	return Fault(err)
}

// LoadLearned calls fn with every learned state, in no particular order.
func (s *SQLite) LoadLearned(ctx context.Context, fn func(model, device string, state []byte) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT model, device, state FROM lector_learned`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type row struct {
		model, device string
		state         []byte
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.model, &r.device, &r.state); err != nil {
			return err
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close() // fn may use the store: the one connection is free again
	for _, r := range all {
		if err := fn(r.model, r.device, r.state); err != nil {
			return err
		}
	}
	return nil
}

// SaveLearned replaces the learned state of model on device. On a shared
// database the nodes share the figures: the last node to finish a task of
// the model on a device of that name writes them.
func (s *Postgres) SaveLearned(ctx context.Context, model, device string, state []byte) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO lector_learned (model, device, state, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (model, device) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`, model, device, state, time.Now().UnixNano())
	return s.fail(err)
}

// LoadLearned calls fn with every learned state, in no particular order.
func (s *Postgres) LoadLearned(ctx context.Context, fn func(model, device string, state []byte) error) error {
	rows, err := s.pool.Query(ctx, `SELECT model, device, state FROM lector_learned`)
	if err != nil {
		return s.fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var model, device string
		var state []byte
		if err := rows.Scan(&model, &device, &state); err != nil {
			return err
		}
		if err := fn(model, device, state); err != nil {
			return err
		}
	}
	return rows.Err()
}
