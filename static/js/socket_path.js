// Where the Socket.IO server answers: /socket.io standalone, <prefix>/socket.io when
// Taskpulse is mounted inside another Flask app (the page's base template says which).
export const socketPath = document.body.dataset.socketPath || '/socket.io';
