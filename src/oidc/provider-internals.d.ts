// oidc-provider's own keystore initializer, which it exports no types for (src/oidc/live-settings.ts).
declare module 'oidc-provider/lib/helpers/initialize_keystore.js' {
  export default function initializeKeystore(this: unknown, jwks: { keys: object[] }): void;
}
