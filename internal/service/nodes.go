package service

import (
	"context"
	"maps"
	"time"

	"github.com/lector-ocr/lector"
	"github.com/lector-ocr/lector/internal/errcode"
	"github.com/lector-ocr/lector/internal/store"
)

// heartbeat records that this node is alive, with its system view, and
// reports whether the node had been marked gone.
func (s *Service) heartbeat(ctx context.Context) (bool, error) {
	s.mu.Lock()
	n := s.node
	s.mu.Unlock()
	n.HeartbeatAt = s.cfg.Clock.Now()
	if s.cfg.NodeInfo != nil {
		n.Info = s.cfg.NodeInfo()
	}
	return s.cfg.Store.Heartbeat(ctx, n)
}

// givenAway handles the news that another node declared this one dead (it
// was paused, or its heartbeats were late, past NodeTimeout): the tasks it
// was running then were given back to the queue, to run elsewhere. Each
// run here of a task that is no longer running on this node stops (work
// then drops it as superseded); runs begun since, and the node itself, go
// on: its heartbeat has made it live again.
func (s *Service) givenAway(ctx context.Context) {
	s.mu.Lock()
	runs := make(map[string]context.CancelFunc, len(s.running))
	maps.Copy(runs, s.running)
	s.mu.Unlock()
	var stopped []string
	for id, cancel := range runs {
		t, err := s.cfg.Store.Lookup(ctx, id)
		if err == nil && t.Status == lector.Running && t.Node == s.cfg.NodeID {
			continue
		}
		if err != nil && errcode.Of(err) != errcode.NotFound {
			s.cfg.Log.Warn("checking a task after this node was declared gone", "task", id, "err", err)
			continue
		}
		cancel()
		stopped = append(stopped, id)
	}
	s.cfg.Log.Warn("this node had been declared gone by another (its heartbeats were late); it is live again and stops its runs of the tasks given away",
		"node", s.cfg.NodeID, "stopped", stopped)
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
	wasGone, err := s.heartbeat(ctx)
	if err != nil {
		if !*failing {
			s.cfg.Log.Warn("node heartbeat failed", "err", err)
		}
		*failing = true
		return err
	}
	if wasGone {
		s.givenAway(ctx)
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
	// A sweep: a queued task whose job was finalized anyway (a node stopped
	// as it requeued it) would never run again.
	ids, err := s.cfg.Store.RequeueStranded(ctx, now)
	if err != nil {
		s.cfg.Log.Warn("requeueing stranded tasks", "err", err)
		return err
	}
	if len(ids) > 0 {
		s.cfg.Log.Warn("queued tasks without a live queue job were given a new one", "tasks", ids)
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
