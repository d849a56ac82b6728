// The entry of the browser bundle: `npm run build` (esbuild) turns this file and the
// `age-encryption` package it re-exports into static/dist/age.js, which the modules in
// static/js import. Only the bundle is served to pages; this file itself imports a bare
// package name that a browser cannot resolve.
export { Decrypter, Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
// Incremental SHA-256, so a download is hashed while it is decrypted, chunk by chunk.
export { sha256 } from "@noble/hashes/sha2.js";
// Bech32, to turn an `AGE-SECRET-KEY-1…` string into the 32 bytes WebCrypto imports.
export { bech32 } from "@scure/base";
