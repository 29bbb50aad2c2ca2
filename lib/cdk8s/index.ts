export * from './inference-service';
