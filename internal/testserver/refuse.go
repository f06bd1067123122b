package testserver

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
)

// A MongoDB server (or a proxy in front of one) that refuses a command:
// the proxy answers it itself, with the error reply a server sends, and the
// server never sees it.

// refusal is a Refuse in force: the command it answers and the error.
type refusal struct {
	command    string // as the client spells it, compared without case
	collection string // the command's collection (exactly), or "" for any
	code       int32
	codeName   string
}

// Refuse makes the proxy answer every MongoDB command named command
// (compared without case: "buildInfo" and "buildinfo" are one command)
// itself, from now until Heal, with the reply of a server that refuses it:
// {ok: 0, errmsg, code, codeName}, as a server does for a user without the
// privilege (13, "Unauthorized") or a command it does not know (59,
// "CommandNotFound"). The request is not passed on. Only OP_MSG requests
// of one section (a command, as the driver sends it), each read whole in
// one chunk, are recognised; any other traffic passes. Refused counts the
// commands answered so.
func (p *Proxy) Refuse(command string, code int32, codeName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = &refusal{command: command, code: code, codeName: codeName}
}

// RefuseOn is Refuse of the command named command on the collection
// named collection alone (the value of the command's first key, as in
// {find: "sessions_users", ...}, compared exactly): the same command on
// other collections goes through. A server refuses so a user whose role
// covers some collections of a database and not others.
func (p *Proxy) RefuseOn(command, collection string, code int32, codeName string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = &refusal{command: command, collection: collection, code: code, codeName: codeName}
}

// Refused returns the number of commands the proxy has answered itself,
// by Refuse, since it started.
func (p *Proxy) Refused() int { return int(p.refused.Load()) }

// refusalOf returns the reply to request if Refuse refuses it, else nil.
func (p *Proxy) refusalOf(request []byte) []byte {
	p.mu.Lock()
	r := p.refuse
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	requestID, command, collection, ok := opMsgCommand(request)
	if !ok || !strings.EqualFold(command, r.command) || (r.collection != "" && collection != r.collection) {
		return nil
	}
	return opMsgReply(requestID, errorDocument(r.command, r.code, r.codeName))
}

// OP_MSG's opcode, and the size of a message header (length, requestID,
// responseTo, opCode).
const (
	opMsg      = 2013
	headerSize = 16
)

// opMsgCommand returns the request id, the command name (the first key
// of the body) and its value if a string (the collection of a find, a
// delete, ...; "" otherwise) of msg, if msg is exactly one OP_MSG with no
// flags and a body section of kind 0 alone.
func opMsgCommand(msg []byte) (requestID int32, command, collection string, ok bool) {
	if len(msg) < headerSize+4+1+5 {
		return 0, "", "", false
	}
	le := binary.LittleEndian
	if int(le.Uint32(msg)) != len(msg) || le.Uint32(msg[12:]) != opMsg || le.Uint32(msg[16:]) != 0 || msg[20] != 0 {
		return 0, "", "", false
	}
	doc := msg[21:]
	if int(le.Uint32(doc)) != len(doc) {
		return 0, "", "", false // more sections, or a malformed body
	}
	// The first element: a type byte, then its name as a C string, then
	// its value; a string is an int32 length (with the NUL), then the bytes
	// and a NUL.
	name, rest, found := bytes.Cut(doc[5:], []byte{0})
	if !found || doc[4] == 0 {
		return 0, "", "", false
	}
	if doc[4] == 0x02 && len(rest) >= 4 {
		if n := int(le.Uint32(rest)); n >= 1 && n <= len(rest)-4 {
			collection = string(rest[4 : 4+n-1])
		}
	}
	return int32(le.Uint32(msg[4:])), string(name), collection, true
}

// errorDocument is the BSON of a server's refusal of command.
func errorDocument(command string, code int32, codeName string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, 0) // the length, set below
	b = append(b, 0x01)                        // double
	b = append(b, "ok\x00"...)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(0))
	b = appendBSONString(b, "errmsg", "command "+command+" refused by the test proxy")
	b = append(b, 0x10) // int32
	b = append(b, "code\x00"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(code))
	b = appendBSONString(b, "codeName", codeName)
	b = append(b, 0)
	binary.LittleEndian.PutUint32(b, uint32(len(b)))
	return b
}

// appendBSONString appends the BSON element name: value, a string.
func appendBSONString(b []byte, name, value string) []byte {
	b = append(b, 0x02)
	b = append(b, name...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)+1))
	b = append(b, value...)
	return append(b, 0)
}

// opMsgReply is the OP_MSG answering request requestID with body.
func opMsgReply(requestID int32, body []byte) []byte {
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint32(b, uint32(headerSize+4+1+len(body)))
	b = le.AppendUint32(b, 0) // the proxy's own requestID
	b = le.AppendUint32(b, uint32(requestID))
	b = le.AppendUint32(b, opMsg)
	b = le.AppendUint32(b, 0) // flagBits
	b = append(b, 0)          // section kind 0: the body
	return append(b, body...)
}
