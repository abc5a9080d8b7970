package service

import (
	"context"
	"time"

	"github.com/lector-ocr/lector/internal/store"
)

// heartbeat records that this node is alive, with its system view.
func (s *Service) heartbeat(ctx context.Context) error {
	s.mu.Lock()
	n := s.node
	s.mu.Unlock()
	n.HeartbeatAt = s.cfg.Clock.Now()
	if s.cfg.NodeInfo != nil {
		n.Info = s.cfg.NodeInfo()
	}
	return s.cfg.Store.Heartbeat(ctx, n)
}

// heartbeats runs until ctx ends: every HeartbeatInterval the node records
// its heartbeat and, on a shared database, returns to the queue the running
// tasks of nodes silent for NodeTimeout. A node rescues others only after
// its own heartbeats have succeeded for a whole NodeTimeout: after the
// database was unreachable every node's heartbeat is old, and none may be
// taken for dead before it has had the time to beat again.
func (s *Service) heartbeats(ctx context.Context) {
	defer close(s.beatDone)
	tick := s.cfg.Clock.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	healthySince := s.cfg.Clock.Now()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
		err := s.beatOnce(ctx, &healthySince, &failing)
		if s.cfg.OnHeartbeat != nil {
			s.cfg.OnHeartbeat(err)
		}
	}
}

// beatOnce is one turn of the heartbeat loop.
func (s *Service) beatOnce(ctx context.Context, healthySince *time.Time, failing *bool) error {
	if err := s.heartbeat(ctx); err != nil {
		if !*failing {
			s.cfg.Log.Warn("node heartbeat failed", "err", err)
		}
		*failing = true
		return err
	}
	now := s.cfg.Clock.Now()
	if *failing {
		s.cfg.Log.Info("node heartbeat recorded again")
		*failing, *healthySince = false, now
	}
	if !s.cfg.Store.Shared() || now.Sub(*healthySince) < s.cfg.NodeTimeout {
		return nil
	}
	dead, n, err := s.cfg.Store.RescueDeadNodes(ctx, now, s.cfg.NodeTimeout)
	if err != nil {
		s.cfg.Log.Warn("rescuing dead nodes' tasks", "err", err)
		return err
	}
	if len(dead) > 0 {
		s.cfg.Log.Warn("nodes stopped heartbeating; their running tasks returned to the queue", "nodes", dead, "tasks", n)
	}
	return nil
}

// Nodes lists the database's nodes (every node of the cluster), live
// first; a node silent for NodeTimeout is gone.
func (s *Service) Nodes(ctx context.Context) ([]store.Node, error) {
	return s.cfg.Store.Nodes(ctx, s.cfg.Clock.Now(), s.cfg.NodeTimeout)
}

// NodeTimeout is how long a silent node is taken for alive.
func (s *Service) NodeTimeout() time.Duration { return s.cfg.NodeTimeout }
