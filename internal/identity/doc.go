// Package identity owns people's accounts: users, passwords, sessions, sign-up, log-in, log-out
// and password reset.
//
// Rules and invariants:
//   - An email address belongs to at most one user, compared case-insensitively.
//   - Passwords are at least 12 characters, not on the list of common passwords, and stored only
//     as argon2id PHC strings (OWASP parameters: m=19 MiB, t=2, p=1). Hashing runs under a
//     semaphore so a burst of log-ins cannot exhaust memory.
//   - A session token is 32 random bytes; only its SHA-256 is stored. A session ends at its idle
//     timeout, at its absolute expiry, on log-out, and — every session of the user — on a password
//     change or reset.
//   - Log-in is throttled per account and per client IP (429 with Retry-After); a wrong password
//     and an unknown email get the same answer.
//   - Password-reset tokens are single-use, expire after one hour and are stored as SHA-256; asking
//     for a reset answers the same whether or not the account exists.
package identity
