export * from './core';
export * from './model';
export * from './render';
