// Package spool holds uploads on disk instead of in memory: Copy streams a
// reader into a private file, enforcing a size limit while it reads, and
// Map gives the file's bytes as a read-only memory mapping, so a 100 MiB
// upload costs page cache, not Go heap.
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/lector-ocr/lector/internal/errcode"
)

// File is a spooled upload. Close removes it.
type File struct {
	f    *os.File
	size int64
	data []byte // the mapping, while mapped
}

// Copy streams r into a new file in dir. More than limit bytes is
// too_large, detected while reading (at most limit+1 bytes are read).
func Copy(r io.Reader, dir string, limit int64) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, errcode.Storage(err)
	}
	f, err := os.CreateTemp(dir, "upload-")
	if err != nil {
		return nil, errcode.Storage(err)
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if errcode.IsStorage(err) { // a full disk is the server's: unavailable, not the client's invalid_argument
		f.Close()
		os.Remove(f.Name())
		return nil, errcode.Storage(err)
	}
	if err == nil && n > limit {
		err = errcode.New(errcode.TooLarge, "the input is over the limit of %d bytes", limit)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		var ce *errcode.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, errcode.Wrap(errcode.InvalidArgument, err, "reading the upload")
	}
	return &File{f: f, size: n}, nil
}

// Open returns a spool over an existing file, which Close removes.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{f: f, size: fi.Size()}, nil
}

// Size is the file's length in bytes.
func (s *File) Size() int64 { return s.size }

// Path is the file's path.
func (s *File) Path() string { return s.f.Name() }

// Reader reads the file from its start.
func (s *File) Reader() io.Reader { return io.NewSectionReader(s.f, 0, s.size) }

// Map returns the file's bytes, mapped read-only; they stay valid until
// Close. An empty file maps to nil.
func (s *File) Map() ([]byte, error) {
	if s.data != nil || s.size == 0 {
		return s.data, nil
	}
	b, err := syscall.Mmap(int(s.f.Fd()), 0, int(s.size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("spool: mapping %s: %w", s.f.Name(), err)
	}
	s.data = b
	return b, nil
}

// Close unmaps and removes the file.
func (s *File) Close() error {
	var err error
	if s.data != nil {
		err = syscall.Munmap(s.data)
		s.data = nil
	}
	return errors.Join(err, s.f.Close(), os.Remove(s.f.Name()))
}
