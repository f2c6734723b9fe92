// The resident's key, encrypted in this browser's localStorage: PBKDF2-SHA-256 turns the password into an
// AES-256-GCM key; the address is bound as additional data so a stored record cannot be re-labelled.
// The private key is only ever decrypted in memory, for one signature, and is never sent anywhere.
import { BaseWallet, SigningKey, getBytes, hexlify, randomBytes } from "ethers";

// BaseWallet signs (EIP-712 included) without ethers' JSON-keystore code, which the page does not need.
const signer = (privateKey) => new BaseWallet(new SigningKey(privateKey));

const STORE = "citypoints.wallet.key.v1";
// the console keeps a consortium member's key apart from a resident's (the same origin serves both pages)
export const CONSOLE_MEMBER_STORE = "citypoints.console.member-key.v1";
export const ITERATIONS = 600_000; // OWASP's 2023 figure for PBKDF2-HMAC-SHA256
export const MIN_PASSWORD = 8;

export class WrongPassword extends Error {}
export class NoCrypto extends Error {}

const utf8 = (s) => new TextEncoder().encode(s);
const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

function subtle() {
  if (!globalThis.crypto || !crypto.subtle) throw new NoCrypto("WebCrypto needs a secure context (HTTPS)");
  return crypto.subtle;
}

async function deriveKey(password, salt, iterations) {
  const base = await subtle().importKey("raw", utf8(password), "PBKDF2", false, ["deriveKey"]);
  return subtle().deriveKey({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

export function load(store = STORE) {
  try {
    const raw = localStorage.getItem(store);
    const rec = raw ? JSON.parse(raw) : null;
    return rec && rec.version === 1 && /^0x[0-9a-fA-F]{40}$/.test(rec.address) ? rec : null;
  } catch {
    return null;
  }
}

export function remove(store = STORE) {
  localStorage.removeItem(store);
}

/** A private key typed or pasted by a person: "0x" optional, spaces ignored. Throws on anything else. */
export function normalisePrivateKey(text) {
  const s = String(text).replace(/\s+/g, "");
  const hex = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new RangeError("format");
  const key = "0x" + hex.toLowerCase();
  signer(key); // throws for zero or out-of-range keys
  return key;
}

export function newPrivateKey() {
  return hexlify(randomBytes(32));
}

export async function save(privateKey, password, store = STORE) {
  const wallet = signer(privateKey);
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(password, salt, ITERATIONS);
  const data = new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv, additionalData: utf8(wallet.address) },
    key, getBytes(wallet.privateKey)));
  const record = {
    version: 1,
    address: wallet.address,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations: ITERATIONS, salt: b64(salt) },
    cipher: { name: "AES-GCM", iv: b64(iv), data: b64(data) },
    createdAt: new Date().toISOString(),
  };
  localStorage.setItem(store, JSON.stringify(record));
  return record;
}

/** The decrypted signer, or WrongPassword. */
export async function unlock(record, password) {
  const key = await deriveKey(password, unb64(record.kdf.salt), record.kdf.iterations);
  let plain;
  try {
    plain = await subtle().decrypt({ name: "AES-GCM", iv: unb64(record.cipher.iv), additionalData: utf8(record.address) },
      key, unb64(record.cipher.data));
  } catch {
    throw new WrongPassword("wrong password");
  }
  const wallet = signer(hexlify(new Uint8Array(plain)));
  if (wallet.address !== record.address) throw new WrongPassword("the key does not match its address");
  return wallet;
}
