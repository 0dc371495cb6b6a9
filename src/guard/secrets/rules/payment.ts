/** Payments, finance and crypto exchanges: Stripe, Square, PayPal/Braintree, Plaid, GoCardless, … */
import type { SecretRule } from '../types.js';
import { ALNUM, UUID, context, hasDigitAndLetter, pattern } from './build.js';

export const PAYMENT_RULES: readonly SecretRule[] = [
  pattern(
    'stripe-secret-key',
    'payment',
    'Stripe secret / restricted key (sk_/rk_ live|test|prod)',
    ['sk_', 'rk_'],
    /\b[sr]k_(?:live|test|prod)_[A-Za-z0-9]{10,250}\b/,
    { minEntropy: 3 },
  ),
  pattern(
    'square-access-token',
    'payment',
    'Square access token (EAAA…, sq0atp-)',
    ['eaaa', 'sq0atp-'],
    /\b(?:EAAA|sq0atp-)[\w-]{22,60}\b/,
  ),
  pattern(
    'square-secret',
    'payment',
    'Square OAuth secret (sq0csp-)',
    ['sq0csp-'],
    /\bsq0csp-[\w-]{40,50}\b/,
  ),
  pattern(
    'braintree-access-token',
    'payment',
    'PayPal Braintree access token',
    ['access_token$'],
    /\baccess_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}\b/,
  ),
  pattern(
    'plaid-access-token',
    'payment',
    'Plaid access token',
    ['access-'],
    /\baccess-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/,
  ),
  context('plaid-secret', 'payment', 'Plaid client id / secret', ['plaid'], ALNUM, 24, 30, {
    caseInsensitive: true,
    validate: hasDigitAndLetter,
  }),
  pattern(
    'flutterwave-key',
    'payment',
    'Flutterwave secret / public / encryption key',
    ['flwseck', 'flwpubk'],
    /\bFLW(?:PUBK|SECK)(?:_TEST)?-[a-h0-9]{32}-X\b/i,
  ),
  context('gocardless-api-token', 'payment', 'GoCardless access token', ['gocardless'], 'a-z0-9_=-', 45, 45, {
    caseInsensitive: true,
    shape: /^live_/i,
  }),
  pattern(
    'duffel-api-token',
    'payment',
    'Duffel API token',
    ['duffel_'],
    /\bduffel_(?:test|live)_[A-Za-z0-9_=-]{40,46}/,
    { delimited: true },
  ),
  pattern(
    'easypost-api-token',
    'payment',
    'EasyPost production / test key',
    ['ezak', 'eztk'],
    /\bEZ[AT]K[A-Za-z0-9]{54}\b/,
    { delimited: true },
  ),
  context('coinbase-access-token', 'payment', 'Coinbase access token', ['coinbase'], 'a-z0-9_-', 64, 64, {
    caseInsensitive: true,
    validate: hasDigitAndLetter,
  }),
  context('kraken-access-token', 'payment', 'Kraken access token', ['kraken'], 'a-z0-9/=_+-', 80, 90, {
    caseInsensitive: true,
  }),
  context('kucoin-secret-key', 'payment', 'KuCoin secret / access key', ['kucoin'], 'a-f0-9-', 24, 36, {
    caseInsensitive: true,
    validate: (v) => UUID.test(v) || /^[a-f0-9]{24}$/i.test(v),
  }),
  context('bittrex-access-key', 'payment', 'Bittrex access / secret key', ['bittrex'], ALNUM, 32, 32, {
    caseInsensitive: true,
    validate: hasDigitAndLetter,
  }),
  context(
    'finicity-credential',
    'payment',
    'Finicity API token / client secret',
    ['finicity'],
    ALNUM,
    20,
    32,
    { caseInsensitive: true, validate: (v) => /^[a-f0-9]{32}$/.test(v) || v.length === 20 },
  ),
  context('finnhub-access-token', 'payment', 'Finnhub access token', ['finnhub'], ALNUM, 20, 20, {
    caseInsensitive: true,
    validate: hasDigitAndLetter,
  }),
  pattern(
    'shippo-api-token',
    'payment',
    'Shippo API token',
    ['shippo_'],
    /\bshippo_(?:live|test)_[a-f0-9]{40}\b/,
  ),
];
