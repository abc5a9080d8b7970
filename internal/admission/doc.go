// Package admission decides whether a task may start, and where: it keeps
// per-device memory reservations so that two tasks that each fit alone but
// not together never both start, evicts idle model instances to make room,
// defers batch work at warning, falls back from a GPU to the CPU at critical,
// rejects or bounds the wait when nothing fits, evicts everything idle at
// emergency, and caps concurrent predictions per pipeline with weighted FIFO
// semaphores.
package admission
