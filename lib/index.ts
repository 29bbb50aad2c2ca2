export * from './core';
export * from './model';
export * from './runtime';
export * from './gate';
export * from './render';
export * from './image';
