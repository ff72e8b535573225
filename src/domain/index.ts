export * from './apply.js';
export * from './can-send.js';
export * from './consent.js';
export * from './explain.js';
export * from './identity.js';
export * from './moment.js';
export * from './resolve.js';
export * from './lane.js';
