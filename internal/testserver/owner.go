package testserver

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// listensOn reports whether the process pid holds the listening TCP socket
// on port, or why not. A port found free can be taken by another process
// (another test binary's server) before the server started for it binds it;
// that server then exits, but the readiness probe, reaching the other one,
// says ready. The socket must be the started process's own: a wrapper
// script (fetch-valkey.sh's) must exec the server, not fork it. Linux only,
// as this package is (Pdeathsig): it reads /proc.
func listensOn(pid, port int) error {
	inodes, err := listeningInodes(port)
	if err != nil {
		return err
	}
	if len(inodes) == 0 {
		return fmt.Errorf("nothing listens on port %d", port)
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return fmt.Errorf("list the sockets of pid %d: %w", pid, err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fdDir + "/" + fd.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return nil
		}
	}
	return fmt.Errorf("port %d is held by another process, not by pid %d", port, pid)
}

// listeningInodes returns the inodes of the TCP sockets listening on port,
// from /proc/net/tcp and /proc/net/tcp6.
func listeningInodes(port int) (map[string]bool, error) {
	const listen = "0A" // TCP_LISTEN in /proc/net/tcp's st column
	suffix := fmt.Sprintf(":%04X", port)
	inodes := make(map[string]bool)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			if table == "/proc/net/tcp6" && os.IsNotExist(err) {
				continue // no IPv6
			}
			return nil, fmt.Errorf("read the listening sockets: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != listen || !strings.HasSuffix(fields[1], suffix) {
				continue
			}
			if _, err := strconv.ParseUint(fields[9], 10, 64); err == nil {
				inodes[fields[9]] = true
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
	}
	return inodes, nil
}
