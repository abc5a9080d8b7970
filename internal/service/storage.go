package service

import (
	"fmt"
	"os"
	"syscall"

	"github.com/lector-ocr/lector/internal/errcode"
)

// MinFreeBytes is the free space under which a data directory counts as
// full: a page rendered by pdftoppm, a result or a WAL page may need that
// much.
const MinFreeBytes = 16 << 20

// CheckWritable reports, as an errcode unavailable storage fault, why dir
// cannot take writes now: less than MinFreeBytes free (statfs), or a small
// file cannot be created, written and synced there. nil when it can.
func CheckWritable(dir string) error {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		return errcode.Storage(fmt.Errorf("data directory %s: %w", dir, err))
	}
	if free := fs.Bavail * uint64(fs.Bsize); free < MinFreeBytes {
		return errcode.StorageFault(fmt.Errorf("data directory %s has %d KiB free: %w", dir, free>>10, syscall.ENOSPC))
	}
	f, err := os.CreateTemp(dir, ".writable-")
	if err != nil {
		return errcode.StorageFault(fmt.Errorf("data directory %s: %w", dir, err))
	}
	defer os.Remove(f.Name())
	_, err = f.Write(make([]byte, 4096))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errcode.StorageFault(fmt.Errorf("data directory %s: %w", dir, err))
	}
	return nil
}
