// main.ts is left out on purpose: it is the server process's entry and starts a server when loaded.
export * from './inference-server';
export * from './server-settings';
export * from './server-log';
export * from './server-metrics';
export * from './api-key';
export * from './model-digest';
export * from './request-body';
export * from './error-answer';
export * from './oip-routes';
export * from './server-version';
export * from './warm-up-inputs';
export * from './oip-errors';
export * from './oip-datatypes';
export * from './oip-infer-request';
export * from './oip-infer-response';
export * from './oip-metadata';
